#!/bin/bash
# Static checks: cppcheck and clang-tidy with zero findings on lib/ and
# service/ (make lint; configuration in .clang-tidy and the Makefile).
# SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
for t in cppcheck clang-tidy; do
  command -v $t >/dev/null || { echo "lint: $t not installed"; exit 1; }
done
out=$(make -s lint 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E 'warning:|error:|note:' | head -40
[ $rc -eq 0 ] && echo "lint: 0 findings"
exit $rc
