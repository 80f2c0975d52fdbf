#!/usr/bin/python3
"""Median wall time and peak RSS of a command over several runs.
Usage: time_cmd.py LABEL RUNS ENV=VAL... -- CMD ARGS...
SPDX-License-Identifier: MIT"""
import os
import statistics
import subprocess
import sys
import time

label, runs = sys.argv[1], int(sys.argv[2])
sep = sys.argv.index("--")
env = dict(os.environ)
for kv in sys.argv[3:sep]:
    k, v = kv.split("=", 1)
    env[k] = v
cmd = sys.argv[sep + 1:]
walls, rss = [], []
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    walls.append(time.perf_counter() - t0)
    rss.append(ru.ru_maxrss / 1024.0)
    if status != 0:
        sys.exit(f"{label}: command failed")
print(f"{label}: median {statistics.median(walls) * 1000:.1f} ms "
      f"(min {min(walls) * 1000:.1f}, max {max(walls) * 1000:.1f}), "
      f"peak RSS {max(rss):.1f} MiB, runs {runs}")
