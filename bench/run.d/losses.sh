#!/bin/bash
# make bench: every loss family on generated 4-class float32 probability
# volumes (256^3 and 512x512x200), 1 and 2 threads, median wall and CPU
# time per family and peak RSS (bench/bench_losses.c).
# SPDX-License-Identifier: MIT
set -euo pipefail
cd "$(dirname "$0")/../.."
R=${RUNS:-3}
[ "$R" -gt 3 ] && R=3
echo "== losses and trade-offs, 4-class float32 probabilities"
build/bench/bench_losses "$R" 0
