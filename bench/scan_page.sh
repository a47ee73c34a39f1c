#!/usr/bin/env bash
# The scan page under load: the hot cached page at 64 and 256 connections against a minimal
# actix handler serving the same bytes from memory (same run, same machine: the ratio is the
# figure), then the uncached path (PAGE_CACHE=off: every request queries PostgreSQL and
# renders), and the page's gzip size. Targets: hot >= 0.9x baseline req/s, hot p99 <= 2x the
# baseline's p99 at 64 connections, uncached p99 <= 25 ms, 0 non-2xx.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
DB=ydym_bench_scan
URL="$SERVER/$DB"
WORKERS=${WORKERS:-2}
DURATION=${DURATION:-20s}
cargo build --release --quiet --bin yidianyima --example static_baseline
bin=target/release/yidianyima
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
DATABASE_URL=$URL RUST_LOG=warn "$bin" demo >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start() { # port page_cache
  DATABASE_URL=$URL BIND=127.0.0.1:$1 WORKERS=$WORKERS PAGE_CACHE=$2 JWT_SECRET=bench-secret-bench-secret-bench-secret \
    REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} REDIS_PREFIX=bench$1: RUST_LOG=warn "$bin" serve --no-migrate >/tmp/ydym-scan-$1.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.2; done
  echo "server on $1 did not start"; exit 1
}
start 18091 on
start 18092 off
# A merchant with records: a restaurant in Malkang with a code.
token=$(curl -fs -H 'content-type: application/json' -d '{"username":"reg-513200","password":"demo-2026-yidianyima"}' \
  http://127.0.0.1:18091/api/v1/auth/login | sed 's/.*"token":"\([^"]*\)".*/\1/')
id=$(psql "$URL" -Atc "SELECT m.id FROM merchants m WHERE region_code='513201' AND category='restaurant' AND EXISTS (SELECT 1 FROM credit_records c WHERE c.merchant_id=m.id) ORDER BY id LIMIT 1")
[ -n "$id" ] || id=$(psql "$URL" -Atc "SELECT id FROM merchants ORDER BY id LIMIT 1")
code=$(curl -fs -XPOST -H "authorization: Bearer $token" "http://127.0.0.1:18091/api/v1/merchants/$id/qrcode" | sed 's/.*"code":"\([^"]*\)".*/\1/')
page=/tmp/ydym-scan-page.gz
etag=$(curl -fs -D - -H 'accept-encoding: gzip' "http://127.0.0.1:18091/s/$code" -o "$page" | awk 'tolower($1)=="etag:" {print $2}' | tr -d '\r')
raw=$(curl -fs "http://127.0.0.1:18091/s/$code" | wc -c)
echo "page: /s/$code  html ${raw} bytes, gzip $(wc -c < "$page") bytes (target 6 KB, ceiling 14 KB)"
target/release/examples/static_baseline "$page" 18093 "$WORKERS" "$etag" & pids+=($!)
sleep 0.5

run() { # name url connections
  local out; out=$(wrk -t2 -c"$3" -d"$DURATION" --latency -H 'Accept-Encoding: gzip' "$2")
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}'); non2xx=${non2xx:-0}
  printf '%-22s c=%-4s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$1" "$3" "$rps" "$p50" "$p99" "$non2xx"
  echo "$rps" > "/tmp/ydym-$1-$3.rps"
}
for c in 64 256; do
  run baseline "http://127.0.0.1:18093/s/$code" $c
  run hot-cached "http://127.0.0.1:18091/s/$code" $c
  echo "  ratio hot/baseline at c=$c: $(echo "scale=2; $(cat /tmp/ydym-hot-cached-$c.rps) / $(cat /tmp/ydym-baseline-$c.rps)" | bc)"
done
run uncached "http://127.0.0.1:18092/s/$code" 64
run uncached "http://127.0.0.1:18092/s/$code" 16
