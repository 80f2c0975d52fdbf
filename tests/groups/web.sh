#!/bin/bash
# Web page tests: a real segscored on a free loopback port, the page driven
# in headless Chromium (Debian's chromium) by playwright-core from
# web/package-lock.json.  Upload two generated NIfTI files; the table equals
# the API's report for the same files; charts are drawn; a bad file and a
# missing token give readable messages.  Screenshots: tests/out/web/*.png.
# SPDX-License-Identifier: MIT
set -u
cd "$(dirname "$0")/../.."
BUILD=${SEGSCORE_BUILD:-build}
PY=/usr/bin/python3
OUT=tests/out/web
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM
rm -rf "$OUT"
mkdir -p "$OUT"

passes=0
fails=0
ok() { passes=$((passes + 1)); echo "ok - $1"; }
no() { fails=$((fails + 1)); echo "not ok - $1"; }

[ -x "$BUILD/segscored" ] || { echo "web: $BUILD/segscored not built"; exit 1; }

# Test-only dependencies: Debian's chromium and Node.js with npm.
need=""
[ -x "$CHROMIUM" ] || need="$need chromium"
command -v node >/dev/null && command -v npm >/dev/null || need="$need nodejs npm"
if [ -n "$need" ] && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need \
    >/dev/null 2>&1
fi
[ -x "$CHROMIUM" ] || { echo "web: $CHROMIUM missing (apt-get install chromium)"; exit 1; }
command -v npm >/dev/null || { echo "web: npm missing (apt-get install nodejs npm)"; exit 1; }
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' \
  || { echo "web: Node.js 18 or newer needed (playwright-core)"; exit 1; }

# playwright-core (and the charting packages) at the locked versions.
# Reinstall when any installed package.json differs from the lock file.
installed_as_locked() {
  node -e '
    const fs = require("fs");
    const lock = JSON.parse(fs.readFileSync("web/package-lock.json", "utf8")).packages;
    for (const [p, e] of Object.entries(lock)) {
      if (!p) continue;
      try {
        const v = JSON.parse(fs.readFileSync("web/" + p + "/package.json", "utf8")).version;
        if (v !== e.version) process.exit(1);
      } catch (err) { process.exit(1); }
    }'
}
if ! installed_as_locked; then
  (cd web && npm ci --ignore-scripts --no-audit --no-fund >/dev/null 2>"../$OUT/npm.log") \
    || { echo "web: npm ci failed (see $OUT/npm.log)"; exit 1; }
fi
if scripts/web-vendor --check; then
  ok "web/vendor/ equals the packages pinned in web/package-lock.json"
else
  no "web/vendor/ equals the packages pinned in web/package-lock.json"
fi

D="$OUT/data"
$PY tests/web/gen_data.py "$D" || { echo "web: cannot make test data"; exit 1; }
TOKEN=web-test-token-$$
printf '%s\n' "$TOKEN" >"$OUT/tokens"

DPID=
B=
LOG=
# start_daemon NAME BINARY [FLAGS...]: on a free loopback port (read from
# its "listening" log line); sets DPID, B and LOG.
start_daemon() {
  local name=$1 bin=$2 port= i
  shift 2
  LOG="$OUT/$name.log"
  "$bin" --listen 127.0.0.1:0 "$@" 2>"$LOG" &
  DPID=$!
  for i in $(seq 100); do
    port=$(grep -o '"msg":"listening"[^}]*"port":[0-9]*' "$LOG" 2>/dev/null | grep -o '[0-9]*$' | head -1)
    [ -n "$port" ] && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
  done
  B="http://127.0.0.1:$port"
  [ -n "$port" ]
}
# stop: SIGTERM, at most 10 s; returns the daemon's exit status.
stop() {
  local i
  kill -TERM "$DPID" 2>/dev/null
  for i in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$DPID" 2>/dev/null
  wait "$DPID" 2>/dev/null
}

# The job delay (test-only flag) keeps "Scoring..." on screen long enough
# to be seen.
start_daemon segscored "$BUILD/segscored" --token-file "$OUT/tokens" --test-job-delay-ms 200 \
  || { echo "web: segscored did not start"; cat "$LOG"; stop; exit 1; }

# The API's own answers for the files the browser will send.
AUTH="Authorization: Bearer $TOKEN"
code=$(curl -s --max-time 60 -o "$OUT/api.json" -w '%{http_code}' -H "$AUTH" \
  -F "prediction=@$D/pred.nii.gz" -F "reference=@$D/ref.nii.gz" "$B/v1/score")
[ "$code" = 200 ] && ok "API scores the pair (200)" || no "API scores the pair (got $code)"
code=$(curl -s --max-time 60 -o "$OUT/api-bad.json" -w '%{http_code}' -H "$AUTH" \
  -F "prediction=@$D/not-nifti.nii.gz" -F "reference=@$D/ref.nii.gz" "$B/v1/score")
[ "${code:0:1}" = 4 ] && ok "API rejects the bad file ($code)" || no "API rejects the bad file (got $code)"

code=$(curl -s --max-time 60 -o "$OUT/api-prob.json" -w '%{http_code}' -H "$AUTH" \
  -F "prediction=@$D/prob.nii.gz" -F "reference=@$D/ref.nii.gz" "$B/v1/score")
[ "$code" = 200 ] && ok "API scores the probability map (200)" \
  || no "API scores the probability map (got $code)"

# Lesions and several raters, when this build has them (other branches).
code=$(curl -s --max-time 60 -o "$OUT/api-lesions.json" -w '%{http_code}' -H "$AUTH" \
  -F "prediction=@$D/pred.nii.gz" -F "reference=@$D/ref.nii.gz" \
  -F 'options={"metrics":["overlap","boundary","lesions"]}' "$B/v1/score")
has() { $PY -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if $2 else 1)" "$1"; }
if [ "$code" != 200 ] || ! has "$OUT/api-lesions.json" "'lesions' in r['classes'][0]"; then
  rm -f "$OUT/api-lesions.json"
  echo "# no lesions in this build ($code)"
fi
code=$(curl -s --max-time 60 -o "$OUT/api-raters.json" -w '%{http_code}' -H "$AUTH" \
  -F "prediction=@$D/pred.nii.gz" -F "reference=@$D/ref.nii.gz" \
  -F "reference=@$D/ref2.nii.gz" "$B/v1/score")
if [ "$code" != 200 ] || ! has "$OUT/api-raters.json" "'raters' in r"; then
  rm -f "$OUT/api-raters.json"
  echo "# no multi-rater reports in this build ($code)"
fi

# Headers of the page and an asset: type, CSP, caching, revalidation.
curl -s -D "$OUT/index.hdr" -o "$OUT/index.html" "$B/"
hdr() { grep -i "^$1:" "$OUT/$2" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
[ "$(hdr content-type index.hdr)" = "text/html; charset=utf-8" ] \
  && ok "GET /: text/html" || no "GET /: text/html"
csp=$(hdr content-security-policy index.hdr)
case "$csp" in
  *"default-src 'none'"*"script-src 'self'"*) ok "GET /: strict CSP" ;;
  *) no "GET /: strict CSP ($csp)" ;;
esac
etag=$(curl -s -D - -o /dev/null "$B/ui/chart.umd.min.js" | grep -i '^etag:' | cut -d' ' -f2 | tr -d '\r')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$B/ui/chart.umd.min.js")
[ -n "$etag" ] && [ "$code" = 304 ] && ok "assets revalidate by ETag (304)" \
  || no "assets revalidate by ETag (etag '$etag', got $code)"
curl -s -o "$OUT/chart.js" "$B/ui/chart.umd.min.js"
cmp -s "$OUT/chart.js" web/vendor/chart.umd.min.js && ok "GET /ui/chart.umd.min.js serves the vendored file" \
  || no "GET /ui/chart.umd.min.js serves the vendored file"
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/ui/missing.js")
[ "$code" = 404 ] && ok "unknown asset: 404" || no "unknown asset: 404 (got $code)"

# The browser part.
if timeout 90 node tests/web/e2e.mjs "$B" "$D" "$OUT" "$TOKEN" >"$OUT/e2e.log" 2>&1; then
  rc=0
else
  rc=1
fi
cat "$OUT/e2e.log"
passes=$((passes + $(grep -c '^ok - ' "$OUT/e2e.log")))
fails=$((fails + $(grep -c '^not ok - ' "$OUT/e2e.log")))
[ $rc -ne 0 ] && [ "$(grep -c '^not ok - ' "$OUT/e2e.log")" = 0 ] && no "browser test exited non-zero"

stop

# The page's handler under the ASan+UBSan daemon, when that tree is built.
ASAN_BUILD=${SEGSCORE_ASAN_BUILD:-build-asan}
if [ -x "$ASAN_BUILD/segscored" ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  if start_daemon asan "$ASAN_BUILD/segscored"; then
    c1=$(curl -s -o "$OUT/asan-index.html" -w '%{http_code}' "$B/")
    c2=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$B/ui/chart.umd.min.js")
    c3=$(curl -s -o /dev/null -w '%{http_code}' -I "$B/ui/app.css")
    c4=$(curl -s -o /dev/null -w '%{http_code}' "$B/ui/nothing")
    [ "$c1 $c2 $c3 $c4" = "200 304 200 404" ] && grep -q "<title>segscore" "$OUT/asan-index.html" \
      && ok "asan: page, 304, HEAD and 404" || no "asan: page, 304, HEAD and 404 ($c1 $c2 $c3 $c4)"
    stop
    rc=$?
    [ "$rc" = 0 ] && ok "asan daemon exits 0" || no "asan daemon exits 0 (got $rc)"
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; then
      no "asan: no sanitizer report"
    else
      ok "asan: no sanitizer report"
    fi
  else
    no "asan daemon did not start"
  fi
else
  echo "skip - $ASAN_BUILD/segscored not built"
fi

echo "web: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
