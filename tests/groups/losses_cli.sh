#!/bin/bash
# Losses and trade-offs through the real CLI on nibabel-written float NIfTI
# files, on the normal build, then on the ASan+UBSan build.
# SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
/usr/bin/python3 tests/cli/test_losses_cli.py "${SEGSCORE_BUILD:-build}/segscore" || exit 1
exec /usr/bin/python3 tests/cli/test_losses_cli.py "${SEGSCORE_ASAN_BUILD:-build-asan}/segscore"
