#!/bin/bash
# make bench: the HTTP load benchmark (bench/http_bench.sh).
# SPDX-License-Identifier: MIT
echo "== HTTP: segscored under wrk, 1/4/16 clients"
bash "$(dirname "$0")/../http_bench.sh"
