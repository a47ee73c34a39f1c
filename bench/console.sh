#!/usr/bin/env bash
# Console pages: server time (p50/p95 of 40 sequential requests each over loopback, so the
# figure is the server's time plus a loopback round trip) on the demo data, signed in through
# the login form like a browser; then the same pages with 100,000 generated merchants
# (examples/gen_merchants.rs) seen by the prefecture's regulator. Target: p50 <= 20 ms on the demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
DB=ydym_bench_console
URL="$SERVER/$DB"
ROWS=${ROWS:-100000}
N=${N:-40}
cargo build --release --quiet --bin yidianyima --example gen_merchants
bin=target/release/yidianyima
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
DATABASE_URL=$URL RUST_LOG=warn "$bin" demo >/dev/null

pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
PORT=18097
start() {
  DATABASE_URL=$URL BIND=127.0.0.1:$PORT METRICS_BIND=127.0.0.1:0 WORKERS=2 JWT_SECRET=bench-secret-bench-secret-bench-secret \
    REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} REDIS_PREFIX=benchcon$$: RUST_LOG=warn \
    "$bin" serve --no-migrate >/tmp/ydym-console.log 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
}
jar=$(mktemp)
login() {
  rm -f "$jar"
  curl -fs -o /dev/null -c "$jar" -H "Origin: http://127.0.0.1:$PORT" \
    --data-urlencode "username=$1" --data-urlencode "password=demo-2026-yidianyima" \
    "http://127.0.0.1:$PORT/console/login"
}
measure() { # path
  local times
  times=$(for _ in $(seq 1 "$N"); do
    curl -s -o /dev/null -b "$jar" -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$PORT$1"
  done)
  local bad
  bad=$(echo "$times" | awk '$1 != 200' | wc -l)
  echo "$times" | awk '{print $2 * 1000}' | sort -n | awk -v path="$1" -v bad="$bad" \
    '{a[NR]=$1} END {printf "  %-58s p50 %6.1f ms  p95 %6.1f ms  non-200 %d\n", path, a[int(NR*0.5)+1], a[int(NR*0.95)], bad}'
}
pages() { # region pattern of the merchant page to time
  local m c
  m=$(psql "$URL" -Atc "SELECT id FROM merchants WHERE region_code LIKE '$1' ORDER BY id LIMIT 1")
  c=$(psql "$URL" -Atc "SELECT id FROM complaints ORDER BY id LIMIT 1")
  for p in /console/ /console/merchants "/console/merchants?q=%E9%A4%90" "/console/merchants?status=open&grade=A" \
           "/console/merchants/$m" "/console/merchants/$m/edit" /console/merchants/new \
           /console/complaints ${c:+/console/complaints/$c} /console/stats /console/audit \
           /console/warnings /console/users /console/imports /console/account; do
    measure "$p"
  done
}

start
login reg-513201
echo "== demo data ($(psql "$URL" -Atc 'SELECT count(*) FROM merchants') merchants), county regulator, $N requests each"
pages 513201
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

file=/tmp/ydym-console-$ROWS.csv
target/release/examples/gen_merchants "$ROWS" > "$file"
DATABASE_URL=$URL RUST_LOG=warn "$bin" import "$file" >/dev/null
start
login reg-513200
echo "== $(psql "$URL" -Atc 'SELECT count(*) FROM merchants') merchants, the prefecture's regulator (all of them in its jurisdiction)"
pages '5132%' 
