#!/usr/bin/python3
"""GPipe throughput: torch.distributed.pipeline.sync.Pipe against `pipekit run`.

Same model shape (gpt2-small: byte vocabulary 256, d_model 768, 12 blocks, context 1024,
pre-norm, causal attention, GELU MLP, final norm + head), same batch, same
micro-batch count, GPipe schedule, 2 stages, one intra-op thread per worker,
Adam, random tokens; the first step is left out of the mean. Both are measured
in one run of this script.

    /usr/bin/python3 bench/torch_pipe_gpipe.py [--pipekit build/cli/pipekit]
        [--seq 32] [--batch 8] [--chunks 8] [--steps 4]

Needs Debian's python3-torch (1.13). Pipe runs its partitions in threads of one
process; on the CPU both partitions share the device "cpu", so Pipe cannot run
them in parallel; pipekit runs one process per stage.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Embed(nn.Module):
    def __init__(self, vocab, d, ctx):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)

    def forward(self, ids):
        pos = torch.arange(ids.size(1), device=ids.device)
        return self.wte(ids) + self.wpe(pos)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.attn(self.ln1(x)).split(d, dim=2)
        shape = (b, t, self.heads, d // self.heads)
        q, k, v = (y.view(shape).transpose(1, 2) for y in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (d // self.heads) ** 0.5
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Head(nn.Module):
    def __init__(self, d, vocab):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, x):
        return self.head(self.ln(x))


def torch_pipe(args):
    from torch.distributed import rpc
    from torch.distributed.pipeline.sync import Pipe

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29511")
    rpc.init_rpc("worker", rank=0, world_size=1)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layers = [Embed(256, args.d, args.ctx)] + [Block(args.d, args.heads) for _ in range(args.layers)]
    layers.append(Head(args.d, 256))
    half = (len(layers) + 1) // 2
    model = nn.Sequential(nn.Sequential(*layers[:half]), nn.Sequential(*layers[half:]))
    pipe = Pipe(model, chunks=args.chunks, checkpoint="never")
    opt = torch.optim.Adam(pipe.parameters(), lr=1e-3)
    rates = []
    for step in range(args.steps):
        ids = torch.randint(0, 256, (args.batch, args.seq + 1))
        start = time.perf_counter()
        opt.zero_grad()
        logits = pipe(ids[:, :-1]).local_value()
        loss = F.cross_entropy(logits.reshape(-1, 256), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        if step > 0:
            rates.append(args.batch / (time.perf_counter() - start))
    rpc.shutdown()
    return sum(rates) / len(rates)


def pipekit_run(args):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        cmd = [args.pipekit, "run", "--quiet", "--threads", "1", "--model", "gpt2-small", "--data", "random", "--seq", str(args.seq), "--batch", str(args.batch),
               "--microbatches", str(args.chunks), "--steps", str(args.steps), "--schedule", "gpipe",
               "--stages", "2", "--nproc", "2", "--metrics", metrics]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        rows = [json.loads(line) for line in open(metrics)]
        rates = [r["samples_per_s"] for r in rows[1:]]
        return sum(rates) / len(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipekit", default="build/cli/pipekit")
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    args.layers, args.d, args.heads, args.ctx = 12, 768, 12, 1024  # pipekit's gpt2-small shape
    ours = pipekit_run(args)
    theirs = torch_pipe(args)
    print(f"\n{'GPipe, 2 stages, ' + str(args.chunks) + ' micro-batches':40s} {'samples/s':>10s}")
    print(f"{'torch.distributed.pipeline.sync.Pipe':40s} {theirs:10.2f}")
    print(f"{'pipekit run (2 processes, Gloo)':40s} {ours:10.2f}")


if __name__ == "__main__":
    main()
