//! Flywheel's side of the ConvNet benchmark against PyTorch: the same CNN
//! trained on Fashion-MNIST. Run through `bash crates/flywheel-ml/bench/convnet.sh`
//! (which also runs `convnet_torch.py` and prints the table), or alone:
//!
//! ```text
//! cargo run --release -p flywheel-ml --example convnet_benchmark -- [--epochs N] [--train N] [--learning-rate R] [--validation] [--json PATH]
//! ```
//!
//! The network (both sides): conv 3×3 → 16 channels, batch norm, ReLU, 2×2
//! max pool; conv 3×3 → 32, batch norm, ReLU, max pool; dropout 0.25;
//! dense 1568 → 64, ReLU; dense 64 → 10. AdamW, learning rate 0.001,
//! weight decay 0.0001, batch size 64. Pixels are scaled to [0, 1] and
//! standardised per channel with the training set's mean and deviation.

use std::time::Instant;

use flywheel_ml::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let epochs: usize = value("--epochs").map_or(Ok(1), |v| v.parse())?;
    let learning_rate: f64 = value("--learning-rate").map_or(Ok(0.001), |v| v.parse())?;
    let (train, train_labels) = datasets::fashion_mnist("train")?;
    let (test, test_labels) = datasets::fashion_mnist("test")?;
    let (train, train_labels) = match value("--train") {
        Some(n) => {
            let rows: Vec<usize> = (0..n.parse::<usize>()?.min(train.len())).collect();
            (train.select(&rows)?, train_labels.select(&rows)?)
        }
        None => (train, train_labels),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let params = ConvNet::params()
        .blocks(&[16, 32])
        .dense(64)
        .dropout(0.25)
        .epochs(epochs)
        .batch_size(64)
        .learning_rate(learning_rate)
        .seed(1);
    let started = Instant::now();
    // `--validation`: the test set's loss and accuracy after each epoch (slower: not for timing).
    let model = if args.iter().any(|a| a == "--validation") {
        params.fit_with_validation(&train, &train_labels, &test, &test_labels)?
    } else {
        params.fit(&train, &train_labels)?
    };
    let train_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let predicted = model.predict(&test)?;
    let infer_s = started.elapsed().as_secs_f64();
    let accuracy = metrics::accuracy(&test_labels, &predicted)?;
    let result = serde_json::json!({
        "library": "flywheel-ml (candle 0.11, CPU)",
        "threads": threads,
        "train_images": train.len(),
        "epochs": epochs,
        "train_seconds": train_s,
        "seconds_per_epoch": train_s / epochs as f64,
        "inference_images_per_second": test.len() as f64 / infer_s,
        "test_accuracy": accuracy,
        "weights": model.parameter_count(),
    });
    println!("{result}");
    if let Some(path) = value("--json") {
        std::fs::write(path, result.to_string())?;
    }
    Ok(())
}
