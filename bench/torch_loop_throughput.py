#!/usr/bin/env python3
"""One-rank training throughput: a plain PyTorch loop against `pipekit run`.

The peer a user would write: pipekit's GPT shape (learned positions, pre-norm
blocks, causal attention, tanh-GELU MLP, final norm, untied head) in PyTorch,
trained with Adam; bf16 or fp16 through autocast (fp16 with a GradScaler),
attention through scaled_dot_product_attention where the torch in use has it.
Both sides take the same shapes: `--microbatches` micro-batches of `--rows`
rows of `--seq` tokens per step, gradients accumulated, one Adam step. The
first `--warmup` steps are left out. Both are run by this script, one after
the other, on the same device.

Model FLOPs per token (the MFU numerator): 6 N + 12 L d T, with N the
parameters (embeddings included), L layers, d the width, T the sequence
(Megatron-LM's and PaLM's convention: forward and backward, attention scores
included, no recomputation). MFU = tokens/s x FLOPs per token / peak, the peak
given with --peak-tflops (H100/H200 SXM dense bf16/fp16: 989; fp32 without
tensor cores: 67).

    python3 bench/torch_loop_throughput.py --pipekit build/cli/pipekit \
        --model gpt2-small --precision bf16 --device cuda --peak-tflops 989

Prints one JSON line per side; runs on the CPU too (small shapes).
"""
import argparse
import json
import math
import os
import subprocess
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {  # layers, width, heads (pipekit's model_spec.cpp)
    "gpt-tiny": (4, 64, 4),
    "gpt2-small": (12, 768, 12),
    "gpt2-medium": (24, 1024, 16),
    "gpt2-large": (36, 1280, 20),
}


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.attn(self.ln1(x)).split(d, dim=2)
        q, k, v = (y.view(b, t, self.heads, d // self.heads).transpose(1, 2) for y in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
            att = att.masked_fill(torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
            y = att.softmax(-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, ctx, layers, d, heads):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.size(1), device=ids.device))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln(x))


def flops_per_token(params, layers, d, seq):
    return 6 * params + 12 * layers * d * seq


def torch_loop(a, layers, d, heads):
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = GPT(a.vocab, 1024, layers, d, heads).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)
    scaler = torch.cuda.amp.GradScaler() if a.precision == "fp16" else None
    params = sum(p.numel() for p in model.parameters())
    rates = []
    for step in range(a.warmup + a.steps):
        batches = [torch.randint(0, a.vocab, (a.rows, a.seq + 1), device=dev) for _ in range(a.microbatches)]
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        for ids in batches:
            with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                logits = model(ids[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, a.vocab), ids[:, 1:].reshape(-1)) / a.microbatches
            (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if step >= a.warmup:
            rates.append(a.microbatches * a.rows * a.seq / (time.perf_counter() - t0))
    return sum(rates) / len(rates), params


def pipekit_run(a):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        cmd = [a.pipekit, "run", "--quiet", "--model", a.model, "--vocab", str(a.vocab), "--data", "random",
               "--seq", str(a.seq), "--batch", str(a.rows * a.microbatches), "--microbatches", str(a.microbatches),
               "--steps", str(a.warmup + a.steps), "--schedule", "gpipe", "--stages", "1", "--lr", "1e-4",
               "--device", a.device, "--precision", a.precision, "--threads", str(a.threads), "--metrics", metrics]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        rows = [json.loads(line) for line in open(metrics)][a.warmup:]
        return sum(r["tokens_per_s"] for r in rows) / len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipekit", default="build/cli/pipekit")
    ap.add_argument("--model", default="gpt2-small", choices=sorted(SHAPES))
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--precision", default="bf16", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--microbatches", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--peak-tflops", type=float, default=0, help="device peak for MFU; 0: not reported")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    layers, d, heads = SHAPES[a.model]
    ours = pipekit_run(a)
    theirs, params = torch_loop(a, layers, d, heads)
    fpt = flops_per_token(params, layers, d, a.seq)
    for name, tps in (("pipekit", ours), ("pytorch_loop", theirs)):
        row = {"side": name, "model": a.model, "precision": a.precision, "device": a.device,
               "tokens_per_s": round(tps, 1), "params": params, "flops_per_token": fpt,
               "torch": torch.__version__}
        if a.peak_tflops > 0:
            row["mfu"] = round(tps * fpt / (a.peak_tflops * 1e12), 4)
        print(json.dumps(row), flush=True)
    print(json.dumps({"pipekit_over_pytorch": round(ours / theirs, 3)}), flush=True)


if __name__ == "__main__":
    main()
