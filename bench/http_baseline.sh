#!/usr/bin/env bash
# Throughput and latency of two cheap routes, to see the service's own overhead.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL}"
command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
bin=target/release/yidianyima
[ -x "$bin" ] || cargo build --release
port=18080
BIND=127.0.0.1:$port REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}" RUST_LOG=warn \
  "$bin" serve --demo >/tmp/ydym-bench.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
for path in /healthz /api/v1/regions; do
  echo "== GET $path (64 connections, 10 s)"
  wrk -t2 -c64 -d10s --latency "http://127.0.0.1:$port$path" | sed -n '/Latency Distribution/,/Requests\/sec/p;/Non-2xx/p'
done
