//! Deep learning on real images: `ConvNet` trained on Fashion-MNIST
//! (Xiao, Rasul & Vollgraf 2017; Debian's `dataset-fashion-mnist`, which
//! `bash tests/tools.sh` installs), all 60,000 training images, three
//! epochs: measured 0.8979 accuracy on the 10,000 test images (the seed
//! fixes it). The data set's README lists two-convolution CNNs at 90–94 %;
//! three epochs of this small one fall 0.2 points short, and a fourth
//! costs another 80 s of CI, so the bar here is 0.89 until the epoch is faster.
//! The network is the benchmark's (`examples/convnet_benchmark.rs`).
//! About four minutes on 2 cores.

use flywheel_ml::prelude::*;

/// Two epochs at the benchmark's learning rate reached 0.8911; three at 0.002 reach 0.8979.
const EPOCHS: usize = 3;

#[test]
fn convnet_reaches_89_percent_on_fashion_mnist() {
    let (train, train_labels) =
        datasets::fashion_mnist("train").expect("Fashion-MNIST: run `bash tests/tools.sh` first");
    let (test, test_labels) = datasets::fashion_mnist("test").unwrap();
    let model = ConvNet::params()
        .blocks(&[16, 32])
        .dense(64)
        .epochs(EPOCHS)
        .learning_rate(0.002)
        .seed(1)
        .fit(&train, &train_labels)
        .unwrap();
    let accuracy = metrics::accuracy(&test_labels, &model.predict(&test).unwrap()).unwrap();
    println!("Fashion-MNIST test accuracy {accuracy:.4} after {} epochs", model.history().epochs.len());
    assert!(accuracy >= 0.89, "test accuracy {accuracy:.4}, below 0.89");
    assert_eq!(model.classes().len(), 10);
}
