#!/bin/bash
# Lesion-wise metrics and several references through the CLI (issue 6), on
# the normal build, then on the ASan+UBSan build.  SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
/usr/bin/python3 tests/cli/test_lesions_raters.py "${SEGSCORE_BUILD:-build}/segscore" || exit 1
exec /usr/bin/python3 tests/cli/test_lesions_raters.py "${SEGSCORE_ASAN_BUILD:-build-asan}/segscore"
