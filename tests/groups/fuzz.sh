#!/bin/bash
# Fuzz smoke: build the libFuzzer targets (clang, ASan+UBSan), replay every
# committed crasher (fuzz/regress/), then fuzz each target for a few
# seconds from the seed corpus.  The long campaigns are `make fuzz
# FUZZ_SECONDS=N`.  SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not installed"; exit 1
fi
make -s fuzz-build >/dev/null || { echo "fuzz: build failed"; exit 1; }
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-5} fuzz/run
