#!/bin/bash
# Malformed-input corpus against a live segscored on loopback, on the
# normal build and then on the ASan+UBSan build (no sanitizer report, no
# leak at exit).  The table is in tests/hardening/malformed.py.
# SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
OUT=tests/out/malformed
rm -rf "$OUT"
rc=0
for b in "${SEGSCORE_BUILD:-build}" "${SEGSCORE_ASAN_BUILD:-build-asan}"; do
  [ -x "$b/segscored" ] || { echo "malformed: $b/segscored not built"; rc=1; continue; }
  flag=; [ "$b" = "${SEGSCORE_ASAN_BUILD:-build-asan}" ] && flag=--asan
  /usr/bin/python3 tests/hardening/malformed.py "$b/segscored" "$OUT" $flag || rc=1
done
exit $rc
