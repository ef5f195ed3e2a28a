//! Splitting data for honest evaluation: random and stratified train/test
//! splits, k-fold cross-validation, and time-ordered splits for series
//! (scikit-learn's `train_test_split`, `StratifiedShuffleSplit`, `KFold`,
//! `TimeSeriesSplit` ideas). All randomness is seeded.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{MlError, Result};
use crate::{Dataset, Target};

fn check_fraction(test_fraction: f64, n: usize) -> Result<usize> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(MlError::InvalidParams(format!("test_fraction must be between 0 and 1, got {test_fraction}")));
    }
    let n_test = ((n as f64) * test_fraction).round() as usize;
    if n_test == 0 || n_test == n {
        return Err(MlError::InvalidData(format!(
            "{n} rows cannot be split with test_fraction {test_fraction}: one side would be empty"
        )));
    }
    Ok(n_test)
}

fn split_at(data: &Dataset, mut order: Vec<usize>, n_test: usize) -> Result<(Dataset, Dataset)> {
    let test = order.split_off(order.len() - n_test);
    Ok((data.select_rows(&order)?, data.select_rows(&test)?))
}

/// Shuffles the rows (with `seed`) and returns `(train, test)`, the test
/// part holding `round(n · test_fraction)` rows.
///
/// # Errors
/// `test_fraction` outside (0, 1), or too few rows for both parts.
pub fn train_test_split(data: &Dataset, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    let n_test = check_fraction(test_fraction, data.nrows())?;
    let mut order: Vec<usize> = (0..data.nrows()).collect();
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
    split_at(data, order, n_test)
}

/// Like [`train_test_split`], but each class keeps its share in both parts
/// (what a rare class — 0.17 % fraud — needs to appear in the test set at all).
///
/// # Errors
/// As [`train_test_split`]; not a classification dataset; a class with
/// fewer than 2 rows (it cannot be on both sides).
pub fn stratified_split(data: &Dataset, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    check_fraction(test_fraction, data.nrows())?;
    let labels = data.labels()?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (class, name) in labels.classes().iter().enumerate() {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels.ids()[i] == class).collect();
        if rows.is_empty() {
            continue;
        }
        if rows.len() < 2 {
            return Err(MlError::InvalidData(format!("class `{name}` has only one row; it cannot be in both parts")));
        }
        rows.shuffle(&mut rng);
        let n_test = (((rows.len() as f64) * test_fraction).round() as usize).clamp(1, rows.len() - 1);
        test.extend(rows.split_off(rows.len() - n_test));
        train.extend(rows);
    }
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);
    Ok((data.select_rows(&train)?, data.select_rows(&test)?))
}

/// The first `1 − test_fraction` of the rows for training and the rest for
/// testing, in order: for time series, where the future must not leak into training.
///
/// # Errors
/// `test_fraction` outside (0, 1), or too few rows for both parts.
pub fn time_split(data: &Dataset, test_fraction: f64) -> Result<(Dataset, Dataset)> {
    let n_test = check_fraction(test_fraction, data.nrows())?;
    split_at(data, (0..data.nrows()).collect(), n_test)
}

/// `k` (train, validation) pairs: the shuffled rows cut into k folds, each
/// fold the validation part once. Classification datasets are stratified.
///
/// # Errors
/// `k < 2` or `k` above the number of rows.
pub fn k_fold(data: &Dataset, k: usize, seed: u64) -> Result<Vec<(Dataset, Dataset)>> {
    if k < 2 || k > data.nrows() {
        return Err(MlError::InvalidParams(format!("k must be between 2 and the {} rows, got {k}", data.nrows())));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    // Deal rows to folds round-robin, class by class when there are classes.
    let mut folds: Vec<Vec<usize>> = vec![Vec::new(); k];
    let groups: Vec<Vec<usize>> = match data.target() {
        Target::Classes(l) => (0..l.n_classes()).map(|c| (0..l.len()).filter(|&i| l.ids()[i] == c).collect()).collect(),
        _ => vec![(0..data.nrows()).collect()],
    };
    let mut next = 0;
    for mut group in groups {
        group.shuffle(&mut rng);
        for row in group {
            folds[next % k].push(row);
            next += 1;
        }
    }
    (0..k)
        .map(|f| {
            let train: Vec<usize> =
                folds.iter().enumerate().filter(|(g, _)| *g != f).flat_map(|(_, r)| r.clone()).collect();
            Ok((data.select_rows(&train)?, data.select_rows(&folds[f])?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Labels, Matrix, Vector};

    fn rare_class_data() -> Dataset {
        let x = Matrix::from_rows(&(0..1000).map(|i| vec![f64::from(i)]).collect::<Vec<_>>()).unwrap();
        let y: Vec<i64> = (0..1000).map(|i| i64::from(i % 100 == 0)).collect(); // 1 % positives
        Dataset::classification(x, Labels::from_ints(&y)).unwrap()
    }

    #[test]
    fn splits_are_seeded_disjoint_and_complete() {
        let d = rare_class_data();
        let (a, b) = train_test_split(&d, 0.2, 7).unwrap();
        assert_eq!((a.nrows(), b.nrows()), (800, 200));
        let (a2, _) = train_test_split(&d, 0.2, 7).unwrap();
        assert_eq!(a, a2, "same seed, same split");
        let mut all: Vec<f64> = a.features().column("x0").unwrap().to_vec();
        all.extend(b.features().column("x0").unwrap().to_vec());
        all.sort_by(f64::total_cmp);
        assert_eq!(all, (0..1000).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn stratification_keeps_the_rare_class_in_both_parts() {
        let (train, test) = stratified_split(&rare_class_data(), 0.2, 1).unwrap();
        assert_eq!(train.labels().unwrap().counts()[1].1, 8);
        assert_eq!(test.labels().unwrap().counts()[1].1, 2);
        let single = Dataset::classification(
            Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0]]).unwrap(),
            Labels::from_ints(&[0, 0, 1]),
        );
        assert!(stratified_split(&single.unwrap(), 0.5, 0).unwrap_err().to_string().contains("only one row"));
    }

    #[test]
    fn time_split_keeps_order_and_k_fold_covers_every_row_once() {
        let x = Matrix::from_rows(&(0..10).map(|i| vec![f64::from(i)]).collect::<Vec<_>>()).unwrap();
        let d = Dataset::regression(x, Vector::from_vec((0..10).map(f64::from).collect())).unwrap();
        let (train, test) = time_split(&d, 0.3).unwrap();
        assert_eq!(test.values().unwrap().to_vec(), vec![7.0, 8.0, 9.0]);
        assert_eq!(train.nrows(), 7);
        let folds = k_fold(&d, 3, 0).unwrap();
        let mut seen: Vec<f64> = folds.iter().flat_map(|(_, v)| v.values().unwrap().to_vec()).collect();
        seen.sort_by(f64::total_cmp);
        assert_eq!(seen, (0..10).map(f64::from).collect::<Vec<_>>());
        assert!(folds.iter().all(|(t, v)| t.nrows() + v.nrows() == 10));
        assert!(k_fold(&d, 11, 0).is_err() && train_test_split(&d, 1.0, 0).is_err());
    }
}
