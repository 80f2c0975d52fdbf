#!/bin/bash
# Load, overload, shutdown and privacy tests against a live segscored on
# loopback (tests/hardening/load.py).  The soak runs SOAK_SECONDS (30 here;
# `make soak` runs 120); its RSS/fd curve is tests/out/load/rss.csv.  The
# shutdown part runs again on the ASan+UBSan daemon.
# SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
OUT=tests/out/load
rm -rf "$OUT"
BUILD=${SEGSCORE_BUILD:-build}
ASAN_BUILD=${SEGSCORE_ASAN_BUILD:-build-asan}
[ -x "$BUILD/segscored" ] || { echo "load: $BUILD/segscored not built"; exit 1; }
export SOAK_SECONDS=${SOAK_SECONDS:-30}
rc=0
/usr/bin/python3 tests/hardening/load.py "$BUILD/segscored" "$OUT" || rc=1
if [ -x "$ASAN_BUILD/segscored" ]; then
  ASAN_OPTIONS=detect_leaks=1 /usr/bin/python3 tests/hardening/load.py \
    "$ASAN_BUILD/segscored" "$OUT/asan" shutdown privacy || rc=1
fi
exit $rc
