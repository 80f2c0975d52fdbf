-- wrk script for bench/http_bench.sh: POST a prebuilt multipart body
-- (BODY_FILE, BOUNDARY from the environment) and print one RESULT line.
-- SPDX-License-Identifier: MIT
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. os.getenv("BOUNDARY")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.2f p50_ms=%.1f p99_ms=%.1f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
