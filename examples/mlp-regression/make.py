#!/usr/bin/env python3
"""An MLP regression model and data for pipekit, made with PyTorch.

Writes OUT/model.pt (a scripted nn.Sequential of 6 layers) and OUT/data.pt
(torch.save({'inputs': x, 'targets': y}): features [N, 16] float32, targets
[N, 2] float32, a smooth function of the features plus a little noise), so
pipekit trains it with mse (what float targets imply).

    python3 examples/mlp-regression/make.py OUT [--samples N] [--seed S]
"""
import argparse
import os

import torch
from torch import nn


def model():
    return nn.Sequential(
        nn.Sequential(nn.Linear(16, 64), nn.Tanh()),
        nn.Sequential(nn.Linear(64, 64), nn.Tanh()),
        nn.Sequential(nn.Linear(64, 64), nn.Tanh()),
        nn.Sequential(nn.Linear(64, 64), nn.Tanh()),
        nn.Sequential(nn.Linear(64, 32), nn.Tanh()),
        nn.Linear(32, 2),
    )


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
    x = torch.randn(a.samples, 16, generator=gen)
    y = torch.stack([torch.sin(x[:, :4].sum(1)), (x[:, 4:8] ** 2).mean(1) - 1], 1)
    y = y + 0.01 * torch.randn(y.shape, generator=gen)
    torch.save({"inputs": x, "targets": y}, os.path.join(a.out, "data.pt"))
    print(f"wrote {a.out}/model.pt (6 layers) and {a.out}/data.pt ({a.samples} samples, 16 features -> 2)")


if __name__ == "__main__":
    main()
