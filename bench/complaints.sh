#!/usr/bin/env bash
# Complaint submission under load: POST /api/v1/public/complaints from 32 clients (fresh
# Idempotency-Key and phone per request, spread over every shop code of the demo) against
# pgbench running the same statements per submission in one transaction (same run, same
# database, same connections). Target: >= 0.7x pgbench's rate, 0 errors, and the complaints
# table grows by exactly the number of 201 answers.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
DB=ydym_bench_complaints
URL="$SERVER/$DB"
WORKERS=${WORKERS:-2}
DURATION=${DURATION:-15}
CONNS=${CONNS:-32}
cargo build --release --quiet --bin yidianyima --example complaint_load
bin=target/release/yidianyima
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
DATABASE_URL=$URL RUST_LOG=warn "$bin" demo >/dev/null

pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
PORT=18095
DATABASE_URL=$URL BIND=127.0.0.1:$PORT WORKERS=$WORKERS DATABASE_POOL_SIZE=$CONNS \
  JWT_SECRET=bench-secret-bench-secret-bench-secret COMPLAINTS_PER_IP_PER_HOUR=100000000 \
  REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} REDIS_PREFIX=benchc$$: RUST_LOG=warn \
  "$bin" serve --no-migrate >/tmp/ydym-complaints.log 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
token=$(curl -fs -H 'content-type: application/json' -d '{"username":"reg-513200","password":"demo-2026-yidianyima"}' \
  "http://127.0.0.1:$PORT/api/v1/auth/login" | sed 's/.*"token":"\([^"]*\)".*/\1/')
curl -fs -XPOST -H "authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/regions/513200/qrcodes" >/dev/null
psql "$URL" -Atc "SELECT code FROM shop_codes WHERE revoked_at IS NULL ORDER BY code" > /tmp/ydym-complaint-codes.txt
merchants=$(psql "$URL" -Atc "SELECT max(merchant_id) FROM shop_codes")
echo "shop codes: $(wc -l < /tmp/ydym-complaint-codes.txt)"

count() { psql "$URL" -Atc "SELECT count(*) FROM complaints"; }

# Service (examples/complaint_load.rs: lets in-flight requests finish, so counts are exact).
before=$(count)
out=$(target/release/examples/complaint_load "http://127.0.0.1:$PORT/api/v1/public/complaints" \
  /tmp/ydym-complaint-codes.txt "$CONNS" "$DURATION")
after=$(count)
field() { echo "$out" | tr ' ' '\n' | awk -v k="$1" 'prev==k {print; exit} {prev=$0}'; }
svc_rps=$(field rps); created=$(field created)
echo "service  c=$CONNS  ${svc_rps} req/s  p50 $(field p50_ms) ms  p99 $(field p99_ms) ms  201: ${created}  other: $(field other)  errors: $(field errors)"
echo "  rows added: $((after - before)) (must equal the 201 answers: ${created})"

# pgbench: the same statements, one transaction per submission.
pg=$(pgbench -n -c "$CONNS" -j 2 -T "$DURATION" -M prepared -D merchants="$merchants" \
  -f bench/complaints-pgbench.sql "$URL" 2>&1)
pg_tps=$(echo "$pg" | awk -F'= ' '/^tps/ {print $2}' | awk '{print $1}')
pg_lat=$(echo "$pg" | awk -F'= ' '/latency average/ {print $2}')
pg_fail=$(echo "$pg" | awk '/number of failed transactions/ {print $5}')
echo "pgbench  c=$CONNS  ${pg_tps} tps  latency avg ${pg_lat}  failed ${pg_fail:-0}"
echo "ratio service/pgbench: $(echo "scale=2; $svc_rps / $pg_tps" | bc)"
