//! Writes a bundled or generated dataset as CSV to standard output, for
//! tools outside Rust (the endpoint benchmark trains LightGBM on the same
//! rows as Flywheel's pool):
//!
//!     cargo run --release -p flywheel-ml --example dataset_csv -- credit_card_fraud 50000 7 > fraud.csv
//!
//! Arguments: `credit_card_fraud ROWS SEED`, `ai4i_2020 ROWS SEED` (the
//! seeded generators), or `german_credit` (the committed table).

use flywheel_ml::datasets;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let rows = usize::try_from(number(1, 10_000))?;
    let table = match args.first().map(String::as_str) {
        Some("credit_card_fraud") => datasets::credit_card_fraud_with(rows, number(2, 1))?,
        Some("ai4i_2020") => datasets::ai4i_2020_with(rows, number(2, 1))?,
        Some("german_credit") => datasets::german_credit(),
        other => return Err(format!("no dataset {other:?}: use credit_card_fraud, ai4i_2020 or german_credit").into()),
    };
    print!("{}", table.to_csv_string()?);
    Ok(())
}
