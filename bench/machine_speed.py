#!/usr/bin/python3
"""How steady is this machine's speed? Times a fixed one-thread kernel
(20 products of 128x128 fp32 matrices, thread CPU time) every ~10 ms for
SECONDS and prints its spread relative to the median and how long a speed
state lasts (autocorrelation at growing lags). Nothing else should run.

    bench/machine_speed.py [SECONDS=30]

Needs python3-torch (Debian). Used for docs/sim-vs-real.md ("The machine's
own speed"): a prediction cannot be closer to one run than runs are to each
other.
"""
import statistics
import sys
import time

import torch

torch.set_num_threads(1)
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
a, b = torch.randn(128, 128), torch.randn(128, 128)
samples = []
end = time.time() + seconds
while time.time() < end:
    t0 = time.thread_time()
    for _ in range(20):
        a @ b
    samples.append((time.time(), (time.thread_time() - t0) * 1000))
    time.sleep(0.01)
med = statistics.median(s[1] for s in samples)
f = [s[1] / med for s in samples]
n = len(f)
mu = sum(f) / n
var = sum((x - mu) ** 2 for x in f) / n
dt = (samples[-1][0] - samples[0][0]) / max(1, n - 1)
s = sorted(f)
print("%d samples, median %.3f ms; relative p10 %.2f p50 1.00 p90 %.2f, min %.2f max %.2f" %
      (n, med, s[n // 10], s[9 * n // 10], s[0], s[-1]))
for lag in (1, 2, 5, 10, 20, 50, 100):
    if lag < n and var > 0:
        r = sum((f[i] - mu) * (f[i + lag] - mu) for i in range(n - lag)) / (n - lag) / var
        print("autocorrelation at %4.0f ms: %.2f" % (lag * dt * 1000, r))
