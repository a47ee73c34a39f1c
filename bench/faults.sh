#!/usr/bin/env bash
# Every dependency failing under load, with nothing acknowledged lost. A private PostgreSQL
# cluster (initdb in a temp dir, a free port), a private redis-server and a private nginx are
# started for the run (the shared servers on 5432 and 6379 are never touched); the demo data
# with a code for every merchant; examples/peak_load.rs as a moderate background load (CONNS,
# default 200). Steps, each printing what it checked and PASS/FAIL:
#   1. Redis down for 20 s (SAVE, SIGKILL, restarted from its snapshot, as a crashed Redis with
#      persistence comes back): no scan-page errors, complaints keep answering 201; a merchant
#      changed during the outage shows the change afterwards on the first instance and on a
#      second one started after the outage (no stale page from Redis).
#   2. PostgreSQL restarted (pg_ctl stop -m fast; 10 s; start): the API answers 503
#      problem+json with Retry-After, cached scan pages stay 200, the pool reconnects by
#      itself; every 201 complaint is stored; a retry (same Idempotency-Key) of a complaint that
#      failed during the outage is stored exactly once.
#   3. Two instances behind nginx: SIGKILL one under load (acknowledged complaints lost: 0; scan
#      counts lost: at most its last flush window), then SIGTERM the other under load (in-flight
#      requests finish, the process exits within 10 s, its scans are flushed).
#   4. PostgreSQL slow (ACCESS EXCLUSIVE lock on merchants for 30 s): uncached pages and API
#      reads answer 503 within a bounded time instead of piling up; recovery after the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-200}
WORKERS=${WORKERS:-2}
POOL=${POOL:-32}
OUTAGE=${OUTAGE:-20}
# Settings the service may know (harmless if not): bounded waits on PostgreSQL.
export DATABASE_STATEMENT_TIMEOUT_MS=${DATABASE_STATEMENT_TIMEOUT_MS:-2000}
export DATABASE_POOL_TIMEOUT_MS=${DATABASE_POOL_TIMEOUT_MS:-2000}
for tool in jq bc nginx redis-server; do
  command -v $tool >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq bc nginx redis-server; break; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
nice -n 10 cargo build --release --quiet --bin yidianyima --example peak_load
bin=$PWD/target/release/yidianyima
gen=$PWD/target/release/examples/peak_load
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
T=$(mktemp -d /tmp/ydym-faults.XXXXXX)
chmod 755 "$T"
fails=0
pass() { echo "  PASS $*"; }
fail() { echo "  FAIL $*"; fails=$((fails + 1)); }
check() { # condition-status description
  if [ "$1" = 0 ]; then pass "$2"; else fail "$2"; fi
}
free_port() { local p=$1; while ss -ltn | awk '{print $4}' | grep -q ":$p\$"; do p=$((p + 1)); done; echo "$p"; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

PGPORT=$(free_port 25432)
RPORT=$(free_port 26379)
NPORT=$(free_port 18200)
APORT=$(free_port $((NPORT + 1)))
BPORT=$(free_port $((APORT + 1)))
AMPORT=$(free_port $((BPORT + 1)))
BMPORT=$(free_port $((AMPORT + 1)))
CPORT=$(free_port $((BMPORT + 1)))
CMPORT=$(free_port $((CPORT + 1)))
PG=postgres://postgres@127.0.0.1:$PGPORT
URL=$PG/ydym
REDIS=redis://127.0.0.1:$RPORT
PREFIX="faults-$$:"
declare -A inst=()   # name -> pid
redis_pid=
nginx_pid=
bg=()
cleanup() {
  set +e
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
  for n in "${!inst[@]}"; do kill -9 "${inst[$n]}" 2>/dev/null; done
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill -CONT "$redis_pid" 2>/dev/null && kill "$redis_pid" 2>/dev/null
  as_pg "$pgbin/pg_ctl" -D "$T/pg" -m immediate stop >/dev/null 2>&1
  echo "logs and outputs: $T"
}
trap cleanup EXIT

# --- Private PostgreSQL and Redis --------------------------------------------------------------
mkdir -p "$T/pg" "$T/redis"
[ "$(id -u)" = 0 ] && chown postgres "$T/pg"
as_pg "$pgbin/initdb" -D "$T/pg" -A trust -U postgres >/dev/null
pg_start() { as_pg "$pgbin/pg_ctl" -D "$T/pg" -l "$T/pg/server.log" -w -o "-p $PGPORT -k $T/pg -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >/dev/null; }
pg_start
psql "$PG/postgres" -qc "CREATE DATABASE ydym"
echo "private PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on $PGPORT ($T/pg)"
redis_start() {
  redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$T/redis" --dbfilename dump.rdb --save '' --appendonly no \
    >>"$T/redis/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
}
redis_start
echo "private Redis on $RPORT"
DATABASE_URL=$URL RUST_LOG=warn "$bin" demo >/dev/null

start_instance() { # name port metrics-port [env...]
  local name=$1 port=$2 mport=$3; shift 3
  env DATABASE_URL="$URL" BIND=127.0.0.1:$port METRICS_BIND=127.0.0.1:$mport WORKERS="$WORKERS" DATABASE_POOL_SIZE="$POOL" \
    JWT_SECRET=bench-secret-bench-secret-bench-secret COMPLAINTS_PER_IP_PER_HOUR=100000000 \
    REDIS_URL="$REDIS" REDIS_PREFIX="$PREFIX" RUST_LOG=warn \
    ${PAGE_CACHE_MAX_BYTES:+PAGE_CACHE_MAX_BYTES=$PAGE_CACHE_MAX_BYTES} \
    "$@" "$bin" serve --no-migrate >>"$T/$name.log" 2>&1 &
  inst[$name]=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  echo "instance $name did not start"; tail "$T/$name.log"; exit 1
}
start_instance A "$APORT" "$AMPORT"
A=http://127.0.0.1:$APORT
token=$(curl -fs -H 'content-type: application/json' -d '{"username":"reg-513200","password":"demo-2026-yidianyima"}' \
  "$A/api/v1/auth/login" | jq -r .token)
curl -fs -XPOST -H "authorization: Bearer $token" "$A/api/v1/regions/513200/qrcodes" >/dev/null
psql "$URL" -Atc "SELECT code FROM shop_codes WHERE revoked_at IS NULL ORDER BY code" > "$T/codes.txt"
# The load scans and complains about all codes but the last 20; the probes use those 20, so
# "cached" and "not cached" mean what they say (a complaint invalidates its shop's page).
head -n -20 "$T/codes.txt" > "$T/gen-codes.txt"
tail -n 20 "$T/codes.txt" > "$T/probe-codes.txt"
echo "demo data: $(psql "$URL" -Atc 'SELECT count(*) FROM merchants') merchants, $(wc -l < "$T/codes.txt") codes"
export STAFF_TOKEN=$token MERCHANT_IDS=$(psql "$URL" -Atc "SELECT min(id) || '-' || max(id) FROM merchants") \
  REGIONS=$(psql "$URL" -Atc "SELECT string_agg(DISTINCT region_code, ',') FROM merchants") STATS_QUERY=region=513201

load() { # name base secs [env...]: background run of the generator; sets $genpid
  local name=$1 base=$2 secs=$3; shift 3
  env TRACKING_OUT="$T/$name.tracking" "$@" "$gen" "$base" "$T/gen-codes.txt" "$CONNS" "$secs" > "$T/$name.out" 2>&1 &
  genpid=$!
  bg+=("$genpid")
}
summary() { grep '^SUMMARY' "$T/$1.out" | cut -d' ' -f2-; }
show() { grep -v '^SUMMARY' "$T/$1.out" | sed 's/^/    /'; }
stored() { # tracking-file -> "distinct found"
  psql "$URL" -At -F' ' -c "CREATE TEMP TABLE t (no text)" -c "\\copy t FROM '$1'" \
    -c "SELECT count(DISTINCT no), count(DISTINCT no) FILTER (WHERE EXISTS (SELECT 1 FROM complaints c WHERE c.tracking_no = t.no)) FROM t" | tail -1
}
check_complaints() { # run name
  local created distinct found
  created=$(summary "$1" | jq .created)
  read -r distinct found <<<"$(stored "$T/$1.tracking")"
  echo "  complaints answered 201: $created, distinct tracking numbers $distinct, in the database $found"
  check "$([ "$created" = "$distinct" ] && [ "$distinct" = "$found" ]; echo $?)" "acknowledged complaints lost: $((distinct - found))"
}
timed() { # curl args... -> "status seconds content-type retry-after"
  local hf="$T/h.$BASHPID"
  curl -s -o /dev/null -D "$hf" -w '%{http_code} %{time_total}' --max-time 60 "$@" | tr '\n' ' '
  printf ' %s %s\n' "$(awk -F': ' 'tolower($1)=="content-type" {print $2}' "$hf" | tr -d '\r' | cut -d';' -f1)" \
    "$(awk -F': ' 'tolower($1)=="retry-after" {print $2}' "$hf" | tr -d '\r')"
}
page_of() { curl -fs "$1/s/$2"; }
sleep_until() { local left=$(($1 - $(date +%s))); [ "$left" -gt 0 ] && sleep "$left" || true; }

# === 1. Redis down ================================================================================
echo "== 1. Redis down for $OUTAGE s under $CONNS connections (through instance A)"
mcode=$(sed -n 1p "$T/probe-codes.txt")
mid=$(psql "$URL" -Atc "SELECT merchant_id FROM shop_codes WHERE code = '$mcode'")
page_of "$A" "$mcode" >/dev/null
in_redis=$(redis-cli -p "$RPORT" exists "${PREFIX}page:{$mcode}:zh")   # page keys carry the code as a Redis Cluster hash tag
check "$([ "$in_redis" = 1 ]; echo $?)" "before the outage the page of merchant $mid (/s/$mcode) is cached in Redis"
load redis "$A" $((OUTAGE + 20))
sleep 5
redis-cli -p "$RPORT" save >/dev/null
kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
t_down=$(date +%s)
echo "  Redis killed (after SAVE: it comes back from that snapshot, as a Redis with persistence would)"
sleep 2
newphone="139$(printf '%08d' $((RANDOM * RANDOM % 100000000)))"
r=$(timed -XPATCH -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d "{\"phone\":\"$newphone\"}" "$A/api/v1/merchants/$mid")
echo "  during the outage: PATCH merchant $mid phone=$newphone -> $r"
check "$([ "${r%% *}" = 200 ]; echo $?)" "the merchant can be changed while Redis is down"
r=$(timed -H 'accept-encoding: gzip' "$A/s/$(sed -n 2p "$T/probe-codes.txt")")
echo "  during the outage: a page never asked for (rendered from PostgreSQL) -> $r"
r=$(timed -XPOST -H 'content-type: application/json' -H "Idempotency-Key: faults-redis-$$" \
  -d "{\"shop_code\":\"$mcode\",\"name\":\"测试\",\"phone\":\"13700000001\",\"category\":\"price\",\"description\":\"Redis 故障期间的投诉测试，要求退还差价。\",\"amount_fen\":100}" \
  "$A/api/v1/public/complaints")
echo "  during the outage: a complaint -> $r"
sleep_until $((t_down + OUTAGE))
redis_start
echo "  Redis restarted after $(($(date +%s) - t_down)) s; keys under the prefix: $(redis-cli -p "$RPORT" --scan --pattern "${PREFIX}*" | wc -l)"
wait "$genpid"
show redis
s=$(summary redis)
scan_bad=$(echo "$s" | jq '[.kinds.scan | (.["503"] + .other + .transport + .["404"])] | add')
check "$([ "$scan_bad" = 0 ]; echo $?)" "scan pages: $scan_bad errors during the run"
c_bad=$(echo "$s" | jq '.kinds.complaint.errors')
check "$([ "$c_bad" = 0 ] && [ "$(echo "$s" | jq .created)" -gt 0 ]; echo $?)" "complaints answered 201 throughout ($(echo "$s" | jq .created) created, $c_bad not 201)"
check_complaints redis
start_instance B "$BPORT" "$BMPORT"
B=http://127.0.0.1:$BPORT
sleep 1
# Control: an instance without the page cache renders from PostgreSQL, so it must show the change.
start_instance C "$CPORT" "$CMPORT" PAGE_CACHE=off
if page_of "http://127.0.0.1:$CPORT" "$mcode" | grep -q "$newphone"; then pass "control: the page rendered from PostgreSQL (PAGE_CACHE=off) shows the new phone"
else fail "control: the page rendered from PostgreSQL does not show the new phone (the check itself is wrong)"; fi
kill "${inst[C]}"; wait "${inst[C]}" 2>/dev/null || true; unset "inst[C]"
for who in A B; do
  base=$A; [ $who = B ] && base=$B
  if page_of "$base" "$mcode" | grep -q "$newphone"; then pass "instance $who shows the phone changed during the outage"
  else fail "instance $who serves a stale page of merchant $mid (the phone changed during the outage is missing; the Redis entry survived the failed invalidation)"; fi
done

# === 2. PostgreSQL restarted =====================================================================
echo "== 2. PostgreSQL restarted (stop -m fast, 10 s, start) under $CONNS connections (through A)"
top=$(sed -n 3p "$T/probe-codes.txt")
page_of "$A" "$top" >/dev/null
before=$(psql "$URL" -Atc "SELECT count(*) FROM complaints")
load pg "$A" 35
sleep 5
as_pg "$pgbin/pg_ctl" -D "$T/pg" -m fast -w stop >/dev/null
t_down=$(date +%s)
echo "  PostgreSQL stopped"
sleep 2
r=$(timed -H "authorization: Bearer $token" "$A/api/v1/merchants/$mid")
echo "  API GET /api/v1/merchants/$mid -> $r  (status seconds content-type retry-after)"
check "$(set -- $r; [ "$1" = 503 ] && [ "$3" = application/problem+json ] && [ -n "${4:-}" ]; echo $?)" "the API answers 503 problem+json with Retry-After"
r=$(timed -H 'accept-encoding: gzip' "$A/s/$top")
echo "  cached scan page /s/$top -> $r"
check "$([ "${r%% *}" = 200 ]; echo $?)" "a cached scan page stays 200"
r=$(timed -H 'accept-encoding: gzip' "$A/s/$(sed -n 4p "$T/probe-codes.txt")")
echo "  a scan page not cached -> $r"
check "$(set -- $r; [ "$1" = 503 ] && [ -n "${4:-}" ]; echo $?)" "a page not cached answers 503 with Retry-After"
key="faults-pg-$$"
body="{\"shop_code\":\"$top\",\"name\":\"测试\",\"phone\":\"13700000002\",\"category\":\"price\",\"description\":\"数据库重启期间的投诉测试，要求退还差价。\",\"amount_fen\":100}"
r=$(timed -XPOST -H 'content-type: application/json' -H "Idempotency-Key: $key" -d "$body" "$A/api/v1/public/complaints")
echo "  complaint during the outage (Idempotency-Key $key) -> $r"
failed_status=${r%% *}
sleep_until $((t_down + 10))
pg_start
t_up=$(date +%s)
echo "  PostgreSQL started after $((t_up - t_down)) s"
ok=
for _ in $(seq 1 60); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$A/api/v1/merchants/$mid")" = 200 ] && { ok=1; break; }
  sleep 0.5
done
check "$([ -n "$ok" ]; echo $?)" "the pool reconnected by itself: the API answers 200 $(($(date +%s) - t_up)) s after PostgreSQL is back (no app restart)"
wait "$genpid"
show pg
echo "  (the load's scans answered 503 during the outage: $(summary pg | jq .kinds.scan[\"503\"]) — pages not cached, or invalidated by a complaint moments before: an invalidation deletes the copy the degraded path could serve)"
check_complaints pg
r1=$(curl -s -w ' %{http_code}' -XPOST -H 'content-type: application/json' -H "Idempotency-Key: $key" -d "$body" "$A/api/v1/public/complaints")
r2=$(curl -s -w ' %{http_code}' -XPOST -H 'content-type: application/json' -H "Idempotency-Key: $key" -d "$body" "$A/api/v1/public/complaints")
n=$(psql "$URL" -Atc "SELECT count(*) FROM complaints WHERE idempotency_key = 'api:$key'")
echo "  the failed complaint ($failed_status during the outage) retried twice: ${r1##* } $(echo "${r1% *}" | jq -r .tracking_no 2>/dev/null), ${r2##* } $(echo "${r2% *}" | jq -r .tracking_no 2>/dev/null); rows with its key: $n"
check "$([ "$n" = 1 ] && [ "${r1##* }" = 201 ]; echo $?)" "the retry with the same Idempotency-Key is stored exactly once"
echo "  complaints table: +$(( $(psql "$URL" -Atc "SELECT count(*) FROM complaints") - before )) rows during step 2"

# === 3. Two instances behind nginx: SIGKILL one, SIGTERM the other ================================
echo "== 3. Two instances behind nginx; SIGKILL A under load, then SIGTERM B under load"
# Fresh instances, so the scan counts have an exact starting point (SIGTERM flushes).
for n in A B; do kill "${inst[$n]}"; wait "${inst[$n]}" 2>/dev/null || true; unset "inst[$n]"; done
start_instance A "$APORT" "$AMPORT"
start_instance B "$BPORT" "$BMPORT"
scans0=$(psql "$URL" -Atc "SELECT coalesce(sum(count), 0) FROM scan_counts")
mkdir -p "$T/nginx/tmp"; chmod 777 "$T/nginx/tmp"
cat > "$T/nginx/nginx.conf" <<EOF
worker_processes 1;
error_log $T/nginx/error.log warn;
pid $T/nginx/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $T/nginx/tmp/body;
  proxy_temp_path $T/nginx/tmp/proxy;
  fastcgi_temp_path $T/nginx/tmp/fastcgi;
  uwsgi_temp_path $T/nginx/tmp/uwsgi;
  scgi_temp_path $T/nginx/tmp/scgi;
  upstream ydym {
    server 127.0.0.1:$APORT max_fails=1 fail_timeout=10s;
    server 127.0.0.1:$BPORT max_fails=1 fail_timeout=10s;
    keepalive 128;
  }
  server {
    listen 127.0.0.1:$NPORT;
    location / {
      proxy_pass http://ydym;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_next_upstream error timeout;
    }
  }
}
EOF
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$NPORT/readyz" >/dev/null && break; sleep 0.1; done
N=http://127.0.0.1:$NPORT
echo "  nginx on $NPORT -> A :$APORT, B :$BPORT"
load nginx "$N" 30
sleep 10
kill -9 "${inst[A]}"; wait "${inst[A]}" 2>/dev/null || true; unset "inst[A]"
echo "  A killed (SIGKILL) 10 s into the run"
wait "$genpid"
show nginx
check_complaints nginx
s=$(summary nginx)
echo "  answers other than 2xx/3xx through nginx: $(echo "$s" | jq .errors) (requests in flight on A when it died: nginx retries idempotent ones on B, answers 502 for POSTs)"
# SIGTERM B while it is loaded directly.
load term "$B" 12 INTERVAL=1
sleep 4
t0=$(date +%s.%N)
kill -TERM "${inst[B]}"
bpid=${inst[B]}
while kill -0 "$bpid" 2>/dev/null; do sleep 0.05; done
t1=$(date +%s.%N)
unset "inst[B]"
exit_s=$(echo "$t1 - $t0" | bc)
wait "$genpid" || true
show term
check "$([ "$(echo "$exit_s <= 10" | bc)" = 1 ]; echo $?)" "B exited $(printf %.2f "$exit_s") s after SIGTERM (limit 10 s)"
s=$(summary term)
term_at=4
inflight_bad=$(echo "$s" | jq --argjson at "$term_at" '[.timeline[] | select(.from_s < $at) | .kinds[] | .transport] | add // 0')
echo "  requests sent before SIGTERM ($term_at s) without an answer: $inflight_bad; after it: $(echo "$s" | jq --argjson at "$term_at" '[.timeline[] | select(.from_s >= $at) | .kinds[] | .transport] | add // 0') (connections closed or refused by the stopping server)"
check "$([ "$inflight_bad" = 0 ]; echo $?)" "in-flight requests finished"
check_complaints term
scans1=$(psql "$URL" -Atc "SELECT coalesce(sum(count), 0) FROM scan_counts")
sent=$(( $(summary nginx | jq .scans_200) + $(summary term | jq .scans_200) ))
counted=$((scans1 - scans0))
echo "  scans answered 200: $sent; counted in scan_counts: $counted; lost: $((sent - counted)) ($(echo "scale=1; 100 * ($sent - $counted) / $sent" | bc) %: A's counts since its last flush, flush window $(grep -o 'FLUSH_EVERY: Duration = Duration::from_secs([0-9]*)' src/cache/scans.rs | grep -o '[0-9]*)' | tr -d ')') s)"
check "$([ "$counted" -le "$sent" ]; echo $?)" "no scan counted twice"
kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=

# === 4. PostgreSQL slow: a lock held for 30 s =====================================================
echo "== 4. PostgreSQL slow: ACCESS EXCLUSIVE lock on merchants for 30 s, under $CONNS connections"
start_instance A "$APORT" "$AMPORT"
load slow "$A" 45
sleep 3
psql "$URL" -qc "BEGIN; LOCK TABLE merchants IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;" >/dev/null &
lockpid=$!; bg+=("$lockpid")
sleep 1
probe() { # label args...
  local label=$1; shift
  echo "$label $(timed "$@")" >> "$T/probes.txt"
}
: > "$T/probes.txt"
probes=()
i=0
for c in $(sed -n 11,16p "$T/probe-codes.txt"); do
  i=$((i + 1))
  probe "uncached-page" -H 'accept-encoding: gzip' "$A/s/$c" & probes+=($!)
  probe "api-get" -H "authorization: Bearer $token" "$A/api/v1/merchants/$((mid + i))" & probes+=($!)
  probe "api-list" -H "authorization: Bearer $token" "$A/api/v1/merchants?region=513201&status=open&per_page=20" & probes+=($!)
done
sleep 1
waiting=$(psql "$URL" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = 'ydym' AND wait_event_type = 'Lock'")
wait "${probes[@]}" 2>/dev/null || true
sort "$T/probes.txt" | awk '{printf "    %-14s %s  %6.2f s  %s retry-after=%s\n", $1, $2, $3, $4, $5}'
echo "  sessions waiting on the lock 1 s into it: $waiting (pool size $POOL)"
worst=$(awk '{ if ($3 > m) m = $3 } END { print m + 0 }' "$T/probes.txt")
non503=$(awk '$2 != 503' "$T/probes.txt" | wc -l)
check "$([ "$(echo "$worst <= 10" | bc)" = 1 ] && [ "$non503" = 0 ]; echo $?)" "every probe answered 503 within 10 s while the lock was held (slowest $worst s, $non503 not 503)"
wait "$lockpid" 2>/dev/null || true
sleep 1
r=$(timed -H "authorization: Bearer $token" "$A/api/v1/merchants/$mid")
r2=$(timed -H 'accept-encoding: gzip' "$A/s/$(sed -n 17p "$T/probe-codes.txt")")
echo "  after the lock: API -> $r; an uncached page -> $r2"
check "$([ "${r%% *}" = 200 ] && [ "${r2%% *}" = 200 ]; echo $?)" "the service recovered after the lock was released"
wait "$genpid"
show slow
slowest=$(summary slow | jq '[.kinds[] | .max_ms] | max')
timeouts=$(summary slow | jq '[.kinds[] | .transport] | add')
check "$([ "$(echo "$slowest <= 10000" | bc)" = 1 ] && [ "$timeouts" = 0 ]; echo $?)" "no request of the load waited more than 10 s during the lock (slowest answer $slowest ms, $timeouts timed out after the client's 30 s; requests that got a connection wait for the lock unless a statement timeout ends them)"
check_complaints slow

echo "== $fails check(s) failed"
