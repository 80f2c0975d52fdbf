#!/bin/bash
# segscore evaluate on a generated 20-case folder (issue 6): summary equals
# the statistics of per-case score runs.  Normal build, then ASan+UBSan.
# SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
/usr/bin/python3 tests/cli/test_evaluate.py "${SEGSCORE_BUILD:-build}/segscore" || exit 1
exec /usr/bin/python3 tests/cli/test_evaluate.py "${SEGSCORE_ASAN_BUILD:-build-asan}/segscore"
