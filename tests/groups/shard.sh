#!/bin/bash
# Sharded evaluation (issue 8): N `segscore evaluate --shard I/N` processes
# plus `segscore merge` equal one run, number for number; the merge refuses
# missing, duplicate, truncated and foreign shards.  Normal build, then
# ASan+UBSan.  SPDX-License-Identifier: MIT
cd "$(dirname "$0")/../.." || exit 1
/usr/bin/python3 tests/cli/test_shard.py "${SEGSCORE_BUILD:-build}/segscore" || exit 1
exec /usr/bin/python3 tests/cli/test_shard.py "${SEGSCORE_ASAN_BUILD:-build-asan}/segscore"
