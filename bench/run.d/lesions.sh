#!/bin/bash
# make bench, issue 6: connected components on 512x512x200 masks, the
# lesion-wise metrics on the 3-organ pair, and `segscore evaluate` over 20
# cases of 256^3 at 1 and 2 jobs.  Short runs (RUNS, default 3).
# SPDX-License-Identifier: MIT
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=bench/out
RUNS=${RUNS:-3}
echo "== connected components, 512x512x200 (best of $RUNS)"
build/bench/bench_components "$RUNS"
echo "== lesion-wise metrics, 512x512x200, 3 organs"
for t in 1 2; do
  /usr/bin/python3 bench/time_cmd.py "segscore score lesions threads=$t" "$RUNS" -- \
    build/segscore score "$OUT/pred512.nii.gz" "$OUT/ref512.nii.gz" \
    --threads "$t" --options '{"metrics":["overlap","lesions"]}'
done
# 20 cases of 256^3: the generated 256^3 pair under 20 case names (links:
# the decode and scoring work is per case, the files stay in the page cache).
EV=$OUT/evaluate
mkdir -p "$EV/pred" "$EV/ref"
for i in $(seq -w 1 20); do
  ln -sf ../../pred256.nii.gz "$EV/pred/case_0$i.nii.gz"
  ln -sf ../../ref256.nii.gz "$EV/ref/case_0$i.nii.gz"
done
echo "== segscore evaluate, 20 cases of 256^3, overlap + boundary"
for jt in "1 1" "2 1" "1 2"; do
  set -- $jt
  /usr/bin/python3 bench/time_cmd.py "evaluate jobs=$1 threads=$2" "$RUNS" -- \
    build/segscore evaluate --pred-dir "$EV/pred" --ref-dir "$EV/ref" \
    --jobs "$1" --threads "$2"
done
