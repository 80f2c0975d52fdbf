#!/bin/bash
# image-test.sh - `make image-test`: run the built image and check it the way
# a deployment would use it.  With a docker engine: `docker run` with a
# read-only root, all capabilities dropped and no-new-privileges.  Without
# one (podman run cannot set rlimits on these build machines): `buildah run
# --isolation chroot` on the host network, so the daemon is pointed at a
# free loopback port with SEGSCORE_LISTEN.
#
# Checks: image config (numeric non-root user, exec entrypoint, SIGTERM,
# HEALTHCHECK, OCI labels, size < 150 MB); the processes run as uid 10001;
# /healthz and /readyz answer; the HEALTHCHECK command succeeds; /v1/score
# and the image's CLI give the host build's report (apart from timing_ms);
# evaluate --shard + merge in the image equal one host evaluate run;
# no patient header text in the logs; SIGTERM with a request in flight
# drains (the request gets its report) and exits 0.
# Ends with "N passed, N failed".  SPDX-License-Identifier: MIT
set -u
cd "$(dirname "$0")/.." || exit 1

IMAGE=${SEGSCORE_IMAGE:-localhost/segscore:latest}
BUILD=${SEGSCORE_BUILD:-build}
OUT=tests/out/image-test
JC="/usr/bin/python3 tests/service/jcheck.py"
MAX_MB=150
rm -rf "$OUT" && mkdir -p "$OUT"

passed=0 failed=0
check() { # description command...
  local what=$1
  shift
  if "$@" >>"$OUT/checks.log" 2>&1; then
    passed=$((passed + 1)); echo "ok   $what"
  else
    failed=$((failed + 1)); echo "FAIL $what"
  fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

if [ -n "${SEGSCORE_ENGINE:-}" ]; then
  ENGINE=$SEGSCORE_ENGINE
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  ENGINE=docker
elif command -v buildah >/dev/null 2>&1; then
  ENGINE=buildah
else
  echo "image-test: needs a docker engine or buildah" >&2
  exit 1
fi
INSPECT=$ENGINE
[ "$ENGINE" = buildah ] && INSPECT=podman
echo "image-test: $IMAGE with $ENGINE"
"$INSPECT" image inspect "$IMAGE" >"$OUT/inspect.json" 2>/dev/null || {
  echo "image-test: no image $IMAGE; run make image first" >&2
  exit 1
}
[ -x "$BUILD/segscore" ] || { echo "image-test: $BUILD/segscore missing; run make" >&2; exit 1; }

#---- the image's configuration ------------------------------------------------
cfg() { /usr/bin/python3 - "$OUT/inspect.json" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d = d[0] if isinstance(d, list) else d
c = d.get("Config") or {}
v = {"user": c.get("User"), "entrypoint": c.get("Entrypoint"),
     "stopsignal": c.get("StopSignal"),
     "healthcheck": c.get("Healthcheck") or d.get("Healthcheck"),  # podman: top level
     "labels": c.get("Labels"), "env": c.get("Env"), "size": d.get("Size")}[sys.argv[2]]
print(v if isinstance(v, (str, int)) else json.dumps(v))
EOF
}
user=$(cfg user)
check "USER is numeric and not root ($user)" \
  bash -c '[[ "$0" =~ ^[0-9]+(:[0-9]+)?$ ]] && [ "${0%%:*}" != 0 ]' "$user"
check "exec-form ENTRYPOINT segscored" test "$(cfg entrypoint)" = '["/usr/local/bin/segscored"]'
check "STOPSIGNAL SIGTERM" test "$(cfg stopsignal)" = SIGTERM
check "HEALTHCHECK runs segscored --healthcheck" grep -q 'segscored", "--healthcheck"' <<<"$(cfg healthcheck)"
check "OCI labels" grep -q 'org.opencontainers.image.revision' <<<"$(cfg labels)"
check "listens on 0.0.0.0:8080 by default" grep -q 'SEGSCORE_LISTEN=0.0.0.0:8080' <<<"$(cfg env)"
size=$(cfg size)
echo "image-test: image size $((size / 1000000)) MB ($size bytes)"
check "image size < $MAX_MB MB" test "$size" -lt $((MAX_MB * 1000000))

#---- running it -------------------------------------------------------------------
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=http://127.0.0.1:$PORT
DATA=$OUT/data
/usr/bin/python3 tests/service/gen_data.py "$DATA" || { echo "image-test: cannot make data" >&2; exit 1; }
chmod -R a+rX "$OUT"
CTR=segscore-image-test-$$
# Each job waits this long (a test-only knob), so a request is surely in
# flight when SIGTERM arrives.
DELAY_MS=1000
RUNPID=

# run_cli ARGS...: the image's segscore CLI with $DATA mounted at /data.
if [ "$ENGINE" = docker ]; then
  run_cli() {
    docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges \
      -v "$PWD/$DATA:/data:ro" --entrypoint /usr/local/bin/segscore "$IMAGE" "$@"
  }
  run_in() { docker run --rm --entrypoint "$1" "$IMAGE" "${@:2}"; }
  start_daemon() {
    docker run -d --name "$CTR" --read-only --cap-drop ALL \
      --security-opt no-new-privileges -p "127.0.0.1:$PORT:8080" \
      -e SEGSCORE_TEST_JOB_DELAY_MS=$DELAY_MS "$IMAGE" >/dev/null
  }
  daemon_uid() { docker exec "$CTR" id -u; }
  healthcheck() { docker exec "$CTR" /usr/local/bin/segscored --healthcheck; }
  healthcheck_cmd() { # the same probe from a fresh container on the same port
    docker run --rm --network host -e "SEGSCORE_LISTEN=127.0.0.1:$PORT" \
      --entrypoint /usr/local/bin/segscored "$IMAGE" --healthcheck
  }
  stop_daemon() { # docker stop sends STOPSIGNAL, waits, reports the exit code
    docker stop -t 30 "$CTR" >/dev/null &&
      test "$(docker inspect -f '{{.State.ExitCode}}' "$CTR")" = 0
  }
  logs() { docker logs "$CTR" 2>&1; }
  cleanup() { docker rm -f "$CTR" >/dev/null 2>&1; }
else
  buildah from --name "$CTR" "$IMAGE" >/dev/null || exit 1
  BR=(buildah run --isolation chroot -e "SEGSCORE_LISTEN=127.0.0.1:$PORT")
  BRD=("${BR[@]}" -e "SEGSCORE_TEST_JOB_DELAY_MS=$DELAY_MS")
  run_cli() {
    "${BR[@]}" -v "$PWD/$DATA:/data:ro" "$CTR" -- /usr/local/bin/segscore "$@"
  }
  run_in() { "${BR[@]}" "$CTR" -- "$@"; }
  start_daemon() {
    "${BRD[@]}" "$CTR" -- /usr/local/bin/segscored >"$OUT/daemon.log" 2>&1 &
    RUNPID=$!
  }
  # The segscored process below our buildah run (chroot: same PID space).
  daemon_pid() {
    local p
    for p in $(pgrep -x segscored); do
      local q=$p
      while [ "$q" -gt 1 ]; do
        [ "$q" = "$RUNPID" ] && { echo "$p"; return 0; }
        q=$(awk '{print $4}' "/proc/$q/stat" 2>/dev/null || echo 1)
      done
    done
    return 1
  }
  daemon_uid() { awk '/^Uid:/ {print $2}' "/proc/$(daemon_pid)/status"; }
  healthcheck() { "${BR[@]}" "$CTR" -- /usr/local/bin/segscored --healthcheck; }
  healthcheck_cmd() { healthcheck; }
  stop_daemon() { # as `docker stop`: SIGTERM to the container's process
    local pid
    pid=$(daemon_pid) || return 1
    kill -TERM "$pid"
    for _ in $(seq 300); do
      kill -0 "$RUNPID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$RUNPID" 2>/dev/null && { kill -KILL "$pid"; return 1; }
    wait "$RUNPID"
  }
  logs() { cat "$OUT/daemon.log"; }
  cleanup() {
    local pid
    pid=$(daemon_pid 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
    buildah rm "$CTR" >/dev/null 2>&1
  }
fi
trap cleanup EXIT

check "a process in the image runs as uid 10001" test "$(run_in id -u)" = 10001
check "the image runs the CLI (segscore --version)" run_in /usr/local/bin/segscore --version

start_daemon
up() { [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$B/healthz")" = 200 ]; }
for _ in $(seq 100); do up && break; sleep 0.1; done
check "/healthz answers 200" up
check "/readyz answers 200" test "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$B/readyz")" = 200
check "daemon runs as uid 10001" test "$(daemon_uid)" = 10001
check "HEALTHCHECK command exits 0" healthcheck

# The same request on the image and the host build: reports equal.
score() { # NAME [curl args]
  local name=$1
  shift
  curl -s --max-time 120 -o "$OUT/$name.json" -w '%{http_code}' \
    -F "prediction=@$DATA/pred.nii.gz" -F "reference=@$DATA/ref.nii.gz" "$@" "$B/v1/score"
}
"$BUILD/segscore" score "$DATA/pred.nii.gz" "$DATA/ref.nii.gz" >"$OUT/host.json"
check "/v1/score answers 200" test "$(score image)" = 200
check "/v1/score report equals the host build's" $JC same "$OUT/image.json" "$OUT/host.json"
OPTS='{"metrics":["overlap","boundary"],"surface":"voxel","percentiles":[95,50]}'
"$BUILD/segscore" score "$DATA/pred.nii.gz" "$DATA/ref.nii.gz" --options "$OPTS" >"$OUT/host-opts.json"
check "/v1/score with options answers 200" test "$(score image-opts -F "options=$OPTS")" = 200
check "/v1/score with options equals the host build's" $JC same "$OUT/image-opts.json" "$OUT/host-opts.json"
run_cli score /data/pred.nii.gz /data/ref.nii.gz >"$OUT/image-cli.json" 2>"$OUT/image-cli.err"
check "the image's CLI report equals the host build's" $JC same "$OUT/image-cli.json" "$OUT/host.json"

# Sharded evaluation in the image (2 shards + merge, as the Kubernetes Job
# runs it) equals one evaluate run of the host build.
EV=$OUT/ev
mkdir -p "$EV/pred" "$EV/ref" "$EV/out"
for c in a b c; do cp "$DATA/pred.nii.gz" "$EV/pred/case_$c.nii.gz"; done
cp "$DATA/ref.nii.gz" "$EV/ref/case_a.nii.gz"
cp "$DATA/ref2.nii.gz" "$EV/ref/case_b.nii.gz"
cp "$DATA/ref.nii.gz" "$EV/ref/case_c.nii.gz"
chmod 0777 "$EV/out"
"$BUILD/segscore" evaluate --pred-dir "$EV/pred" --ref-dir "$EV/ref" --out "$OUT/host-eval.json"
run_eval() { # the image's CLI with $EV mounted at /ev (out/ writable)
  if [ "$ENGINE" = docker ]; then
    docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges \
      -v "$PWD/$EV:/ev" --entrypoint /usr/local/bin/segscore "$IMAGE" "$@"
  else
    "${BR[@]}" -v "$PWD/$EV:/ev" "$CTR" -- /usr/local/bin/segscore "$@"
  fi
}
run_eval evaluate --pred-dir /ev/pred --ref-dir /ev/ref --shard 0/2 --out /ev/out/s0.json &&
  run_eval evaluate --pred-dir /ev/pred --ref-dir /ev/ref --shard 1/2 --out /ev/out/s1.json &&
  run_eval merge /ev/out/s0.json /ev/out/s1.json --out /ev/out/merged.json
check "evaluate --shard 0/2, 1/2 and merge run in the image" test -s "$EV/out/merged.json"
check "... the merged output equals the host's single evaluate run" /usr/bin/python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for d in (a, b):
    for c in d["cases"]:
        c["report"].pop("timing_ms", None)
sys.exit(a != b)' "$OUT/host-eval.json" "$EV/out/merged.json"

score inflight >"$OUT/inflight.code" &
CURL=$!
sleep 0.4
check "SIGTERM drains and exits 0" stop_daemon
wait "$CURL"
check "the request in flight at SIGTERM still gets its report" \
  bash -c 'test "$(cat "$0")" = 200' "$OUT/inflight.code"
check "... and it equals the host build's" $JC same "$OUT/inflight.json" "$OUT/host.json"
hc_fails() { ! healthcheck_cmd; }
check "HEALTHCHECK command fails once the daemon is gone" hc_fails
logs >"$OUT/daemon.log.all"
check "log says draining then stopped" \
  bash -c 'grep -q "\"draining\"" "$0" && grep -q "\"stopped\"" "$0"' "$OUT/daemon.log.all"
check "no patient header text in the logs" bash -c '! grep -q PATIENT-DESCRIP "$0"' "$OUT/daemon.log.all"
finish
