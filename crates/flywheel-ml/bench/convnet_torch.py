"""PyTorch's side of the ConvNet benchmark: the same CNN as
examples/convnet_benchmark.rs, on the same Fashion-MNIST files, with the
same batch size, optimiser and thread count. Prints one JSON line.

usage: convnet_torch.py [--epochs N] [--train N] [--threads N] [--json PATH]
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn

DIR = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(os.path.join(DIR, name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train", type=int, default=60000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = idx("train-images-idx3-ubyte.gz")[: a.train].astype(np.float32)[:, None] / 255.0
    y = idx("train-labels-idx1-ubyte.gz")[: a.train].astype(np.int64)
    tx = idx("t10k-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
    ty = idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    mean, std = x.mean(), x.std()
    x, tx = torch.from_numpy((x - mean) / std), torch.from_numpy((tx - mean) / std)
    y, ty = torch.from_numpy(y), torch.from_numpy(ty)

    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    for _ in range(a.epochs):
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            b = order[i: i + 64]
            opt.zero_grad()
            loss = loss_fn(model(x[b]), y[b])
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - started
    model.eval()
    started = time.perf_counter()
    with torch.no_grad():
        pred = torch.cat([model(tx[i: i + 256]).argmax(1) for i in range(0, len(tx), 256)])
    infer_s = time.perf_counter() - started
    result = {
        "library": f"PyTorch {torch.__version__} (CPU)",
        "threads": a.threads,
        "train_images": len(x),
        "epochs": a.epochs,
        "train_seconds": train_s,
        "seconds_per_epoch": train_s / a.epochs,
        "inference_images_per_second": len(tx) / infer_s,
        "test_accuracy": float((pred == ty).float().mean()),
        "weights": sum(p.numel() for p in model.parameters()),
    }
    print(json.dumps(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
