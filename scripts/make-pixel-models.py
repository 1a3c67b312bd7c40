# Writes the fixtures of declared preprocessing (test/onnx/preprocessing.test.ts, docs/inputs.md):
# a small PyTorch CNN and MLP trained briefly on Fashion-MNIST *as PyTorch users usually feed it*:
# NCHW tensors of pixels / 255 (torchvision's ToTensor), no mean/std. Exported by torch.onnx
# (opset 13, dynamic batch). Imported into Graduate without `--input-scale 1/255` they are fed
# 0..255 pixels and score low; with it they match onnxruntime.
#   /usr/bin/python3 scripts/make-pixel-models.py [--data /usr/share/datasets/fashion-mnist]
#       [--out test/onnx/fixtures] [--epochs 1]
# A short run (one epoch, ~1 minute on two cores): each file stays under 200 KB.
import argparse
import gzip
import os
import struct

import numpy as np
import torch
from torch import nn


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
    )


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 48), nn.ReLU(), nn.Linear(48, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default="test/onnx/fixtures")
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x = idx(os.path.join(a.data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    tx = idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    ty = idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    X = torch.from_numpy(x).unsqueeze(1)  # [N, 1, 28, 28], pixels / 255
    Y = torch.from_numpy(y)
    TX = torch.from_numpy(tx).unsqueeze(1)
    for name, net in (("pixels-cnn", cnn()), ("pixels-mlp", mlp())):
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        for _ in range(a.epochs):
            perm = torch.randperm(len(X))
            for i in range(0, len(X), 128):
                b = perm[i : i + 128]
                opt.zero_grad()
                nn.functional.cross_entropy(net(X[b]), Y[b]).backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            acc = (net(TX).argmax(1).numpy() == ty).mean()
        path = os.path.join(a.out, f"{name}.onnx")
        torch.onnx.export(
            net, X[:1], path, opset_version=13, input_names=["pixels"], output_names=["logits"],
            dynamic_axes={"pixels": {0: "N"}, "logits": {0: "N"}},
        )
        print(f"{path}: {os.path.getsize(path)} bytes, PyTorch test accuracy {acc:.4f} (inputs pixels / 255)")


if __name__ == "__main__":
    main()
