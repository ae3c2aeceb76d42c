#!/usr/bin/env python3
"""A small CNN classifier and random images for pipekit, made with PyTorch.

Writes OUT/model.pt (a scripted nn.Sequential: each child is one layer pipekit
may put on its own stage) and OUT/data.pt (torch.save((inputs, targets)):
images [N, 3, 16, 16] float32, labels [N] int64 in 0..9). The label is a
learnable function of the image (the brightest quadrant of channel 0 and the
sign of channel 1's mean), so the loss falls while training.

    python3 examples/cnn-classifier/make.py OUT [--samples N] [--seed S]
"""
import argparse
import os

import torch
from torch import nn


def model():
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()),  # conv1
        nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),  # conv2 + pool: 8x8
        nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),  # conv3 + pool: 4x4
        nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()),  # conv4
        nn.Flatten(),  # [N, 512]; a layer without parameters
        nn.Sequential(nn.Linear(512, 64), nn.ReLU()),  # hidden
        nn.Linear(64, 10),  # class scores
    )


def data(n, gen):
    x = torch.randn(n, 3, 16, 16, generator=gen)
    quads = torch.stack([x[:, 0, :8, :8].mean((1, 2)), x[:, 0, :8, 8:].mean((1, 2)),
                         x[:, 0, 8:, :8].mean((1, 2)), x[:, 0, 8:, 8:].mean((1, 2))], 1)
    y = quads.argmax(1) * 2 + (x[:, 1].mean((1, 2)) > 0).long() + 2 * (quads.max(1).values > 0.5).long()
    return x, y.clamp(0, 9)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    torch.jit.script(model()).save(os.path.join(a.out, "model.pt"))
    gen = torch.Generator().manual_seed(a.seed + 1)
    torch.save(data(a.samples, gen), os.path.join(a.out, "data.pt"))
    print(f"wrote {a.out}/model.pt (7 layers) and {a.out}/data.pt ({a.samples} images 3x16x16, 10 classes)")


if __name__ == "__main__":
    main()
