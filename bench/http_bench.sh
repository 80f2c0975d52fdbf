#!/bin/bash
# HTTP benchmark: segscored on 127.0.0.1 under wrk (a prebuilt multipart
# body, bench/http_post.lua) at 1, 4 and 16 concurrent clients, on a 128^3
# pair and a 512x512x200 pair; requests/s, p50/p99 latency, errors and the
# daemon's RSS.  The CLI's time for the same pair (same thread count as
# one job) gives the HTTP overhead.  Loopback only; each run is bounded by
# HTTP_BENCH_SECONDS.  Results also in bench/out/http.txt.
# SPDX-License-Identifier: MIT
set -u
cd "$(dirname "$0")/.."
BUILD=${SEGSCORE_BUILD:-build}
OUT=bench/out
DATA=$OUT/data
DUR=${HTTP_BENCH_SECONDS:-10}
CLIENTS=${HTTP_BENCH_CLIENTS:-"1 4 16"}
SIZES=${HTTP_BENCH_SIZES:-"128 512"}
PY=/usr/bin/python3
mkdir -p "$DATA"

if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1
  command -v wrk >/dev/null || { echo "http_bench: wrk missing (apt-get install wrk)"; exit 1; }
fi
for b in segscored segscore; do
  [ -x "$BUILD/$b" ] || { echo "http_bench: $BUILD/$b not built"; exit 1; }
done
BOUNDARY=$($PY bench/gen_pairs.py "$DATA") || exit 1
export BOUNDARY

LOG=$OUT/http_daemon.log
# Queue deep enough that 16 clients are queued, not refused.
"$BUILD/segscored" --listen 127.0.0.1:0 --queue 32 "$@" 2>"$LOG" &
DPID=$!
trap 'kill -TERM $DPID 2>/dev/null; wait $DPID 2>/dev/null' EXIT
for i in $(seq 100); do
  # the whole line: its last field is "version"
  PORT=$(grep '"msg":"listening".*"version"' "$LOG" | grep -o '"port":[0-9]*' | grep -o '[0-9]*$')
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "${PORT:-}" ] || { echo "http_bench: daemon did not start"; cat "$LOG"; exit 1; }
URL="http://127.0.0.1:$PORT/v1/score"
TPJ=$(grep -o '"threads_per_job":[0-9]*' "$LOG" | grep -o '[0-9]*$')
WORKERS=$(grep -o '"workers":[0-9]*' "$LOG" | grep -o '[0-9]*$')

rss_mb() { awk -v k="$1:" '$1 == k { printf "%.0f", $2 / 1024 }' "/proc/$DPID/status"; }

# N CLI runs on a pair, OMP team = one job's: prints the median wall
# time and the median of the report's own timing_ms.total (the work
# without process start-up and file reads), both in ms.
cli_ms() {
  local n=$1 p=$2 r=$3 i t0 t1 work
  for i in $(seq "$n"); do
    t0=$(date +%s%N)
    OMP_NUM_THREADS=$TPJ "$BUILD/segscore" score "$p" "$r" --threads "$TPJ" \
      >"$OUT/cli_report.json" 2>/dev/null || { echo "nan nan"; return; }
    t1=$(date +%s%N)
    work=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["timing_ms"]["total"])' \
      "$OUT/cli_report.json")
    echo "$(( (t1 - t0) / 1000 )) $work"
  done | $PY -c 'import sys, statistics as st
rows = [l.split() for l in sys.stdin if l.strip()]
print("%.1f %.1f" % (st.median(float(r[0]) for r in rows) / 1000,
                     st.median(float(r[1]) for r in rows)))'
}

# What HTTP adds: N sequential requests on one keep-alive connection
# (Python http.client, the prebuilt body); the medians of (client time -
# the report's own timing_ms.total) and of that scoring time, in ms.
http_overhead() {
  local n=$1 size=$2
  $PY - "$PORT" "$DATA/body_$size.bin" "$BOUNDARY" "$n" <<'PYEOF'
import http.client, json, statistics as st, sys, time
port, path, boundary, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
body = open(path, "rb").read()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
hdrs = {"Content-Type": "multipart/form-data; boundary=" + boundary}
over, work = [], []
for _ in range(n):
    t0 = time.perf_counter()
    conn.request("POST", "/v1/score", body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    t = 1000 * (time.perf_counter() - t0)
    w = json.loads(data)["timing_ms"]["total"]
    over.append(t - w)
    work.append(w)
print("%.2f %.1f" % (st.median(over), st.median(work)))
PYEOF
}

{
  echo "segscored HTTP benchmark  $(date -u +%Y-%m-%dT%H:%MZ)  $(nproc) cores," \
       "workers=$WORKERS threads_per_job=$TPJ, $DUR s per run, load average $(cut -d" " -f1-3 /proc/loadavg)"
  printf '%-12s %7s %9s %9s %9s %7s %9s %9s %8s\n' pair clients req/s p50_ms p99_ms errors cli_wall cli_work rss_mb
  for size in $SIZES; do
    p=$DATA/pred_$size.nii.gz
    r=$DATA/ref_$size.nii.gz
    runs=5
    [ "$size" = 512 ] && runs=3
    read -r cli_wall cli_work <<<"$(cli_ms "$runs" "$p" "$r")"
    curl -s --max-time 300 -o /dev/null -F "prediction=@$p" -F "reference=@$r" "$URL" # warm-up
    read -r over work <<<"$(http_overhead 15 "$size")"
    for c in $CLIENTS; do
      t=$(( c < 2 ? c : 2 ))
      res=$(BODY_FILE=$DATA/body_$size.bin wrk -t "$t" -c "$c" -d "${DUR}s" --timeout 300s \
              -s bench/http_post.lua "$URL" 2>&1 | grep '^RESULT')
      get() { echo "$res" | grep -o "$1=[0-9.]*" | cut -d= -f2; }
      [ -n "$res" ] || res="RESULT errors=1 non2xx=0" # wrk failed
      errs=$(( $(get errors) + $(get non2xx) ))
      name=$size^3
      [ "$size" = 512 ] && name=512x512x200
      printf '%-12s %7s %9s %9s %9s %7s %9s %9s %8s\n' "$name" "$c" "$(get rps)" "$(get p50_ms)" \
        "$(get p99_ms)" "$errs" "$cli_wall" "$cli_work" "$(rss_mb VmRSS)"
      [ "$c" = 1 ] && awk -v h="$(get p50_ms)" -v w="$cli_work" -v c="$cli_wall" -v n="$name" \
        -v o="$over" -v dw="$work" \
        'BEGIN { printf "  %s: HTTP adds %.2f ms to %.1f ms of scoring in the daemon (%+.1f%%);" \
                 " wrk p50 %.1f ms; CLI: %.1f ms of scoring, %.1f ms wall\n", n, o, dw,
                 (dw > 0 ? 100 * o / dw : 0), h, w, c }' >&2
    done
  done
  echo "daemon peak RSS (VmHWM): $(rss_mb VmHWM) MB"
} 2>&1 | tee "$OUT/http.txt"
