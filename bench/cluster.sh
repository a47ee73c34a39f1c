#!/usr/bin/env bash
# Measurements over the local cluster (deploy/local-cluster.sh: PostgreSQL primary + streaming
# replica, a three-master Redis Cluster, app A and app B, nginx), the figures docs/scaling.md
# builds its capacity model on:
#   a. the hot scan page on app A directly vs through nginx's micro-cache, 64 and 256 connections
#   b. the uncached path (a second cluster with PAGE_CACHE=off) over N distinct codes on app B:
#      reads split primary/replica, then the replica stopped (everything on the primary)
#   c. replica lag while complaints are written through nginx for LAG_SECS seconds
#   d. capacity figures: bytes per cached page (in-process and Redis), PostgreSQL bytes per
#      merchant (demo data, and ROWS registry-only merchants), WAL per complaint and per
#      scan-count row flushed
# and one summary table at the end. About 5 minutes on the 2-core VM (plus any wait for a test
# run to end: before each measurement it waits while `target/debug/deps/api-*` runs).
#
#   bench/cluster.sh     # DURATION=15 (s per wrk run) N=500 ROWS=100000 (0: skip) LAG_SECS=20
#                        # WORKERS=1 (per instance: the two share the 2 cores) UNCACHED_CONNS=64
#                        # LOAD_CONNS=10 (complaint clients in c; at most 10, see below) OUT=/tmp/ydym-bench-cluster.XXXXXX
#
# Needs what deploy/local-cluster.sh needs (PostgreSQL server, redis-server, nginx, curl), plus
# wrk (installed from Debian's packages if missing), jq and bc. The shared PostgreSQL on 5432 and
# Redis on 6379 are never used: everything runs in clusters this script starts and stops (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
for t in jq bc curl redis-cli nginx; do command -v "$t" >/dev/null || { echo "cluster.sh: $t is missing" >&2; exit 1; }; done

BIN=${YIDIANYIMA_BIN:-$ROOT/target/release/yidianyima}
EX=$ROOT/target/release/examples
if [ ! -x "$BIN" ] || [ ! -x "$EX/complaint_load" ] || [ ! -x "$EX/gen_merchants" ]; then
  nice -n 10 cargo build --release --bin yidianyima --example complaint_load --example gen_merchants
fi
export YIDIANYIMA_BIN=$BIN
export WORKERS=${WORKERS:-1}
export RUST_LOG=${RUST_LOG:-warn}
# Every request comes from 127.0.0.1 (nginx forwards it): the per-IP complaint brake would
# stop the load after 300 complaints. The per-phone rule stays (every phone is fresh).
export COMPLAINTS_PER_IP_PER_HOUR=100000000
# Our own record of the last cluster: a test's cluster (or the user's) is never the one acted on.
export CLUSTER_LAST_FILE=/tmp/ydym-bench-cluster.$$.last
DURATION=${DURATION:-15}
N=${N:-500}
ROWS=${ROWS:-100000}
LAG_SECS=${LAG_SECS:-20}
UNCACHED_CONNS=${UNCACHED_CONNS:-64}
# At most 10: examples/complaint_load.rs gives client t the phones 139 + (t * 10^7 + i) mod 10^8,
# so clients t and t + 10 send the same phones, and a second complaint with the same phone and
# words the same day is answered with the first one (201, nothing new stored).
LOAD_CONNS=${LOAD_CONNS:-10}
OUT=${OUT:-$(mktemp -d /tmp/ydym-bench-cluster.XXXXXX)}
mkdir -p "$OUT"
T0=$SECONDS
WAITED=0

say() { echo "== $*"; }
SUMMARY=()
row() { SUMMARY+=("$(printf '%-44s %s' "$1" "$2")"); }

# --- the cluster ------------------------------------------------------------------------------
CDIR=
declare -A C=()
load_env() { # DIR/cluster.env, line by line (never sourced: REDIS_PORTS has spaces)
  C=()
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line == *=* ]] || continue
    C[${line%%=*}]=${line#*=}
  done <"$CDIR/cluster.env"
}
cluster_up() { # label; the environment (PAGE_CACHE, ...) reaches both instances
  CDIR=$(mktemp -d /tmp/ydym-bench-cl.XXXXXX)
  local t=$SECONDS
  if ! deploy/local-cluster.sh up "$CDIR" >"$OUT/up-$1.log" 2>&1; then
    echo "cluster.sh: local-cluster.sh up failed:" >&2; tail -20 "$OUT/up-$1.log" >&2
    CDIR=; exit 1
  fi
  load_env
  say "cluster $1 up in $((SECONDS - t)) s ($CDIR; WORKERS=$WORKERS per instance${PAGE_CACHE:+, PAGE_CACHE=$PAGE_CACHE})"
}
cluster_down() {
  [ -n "$CDIR" ] || return 0
  deploy/local-cluster.sh down "$CDIR" >>"$OUT/down.log" 2>&1 || true
  CDIR=
}
BG=()
cleanup() {
  local p
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
  cluster_down
  rm -f "$CLUSTER_LAST_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sql() { # PORT DB SQL: one value per line, unaligned
  "${C[PG_BIN]}/psql" -X -h 127.0.0.1 -p "$1" -U postgres -d "$2" -Atqc "$3"
}
prim() { sql "${C[PRIMARY_PORT]}" "${2:-yidianyima}" "$1"; }
lsn() { prim "SELECT pg_current_wal_lsn()"; }
lsn_diff() { prim "SELECT pg_wal_lsn_diff('$2', '$1')::bigint"; }
metric() { # URL NAME{labels} -> value (0 if absent)
  curl -s --max-time 2 "$1" | awk -v m="$2" 'index($0, m) == 1 { v = $NF } END { print (v == "" ? 0 : v) }'
}
redis_sum() { # INFO-field|dbsize: summed over the cluster's masters
  local p s=0 v
  for p in ${C[REDIS_PORTS]}; do
    if [ "$1" = dbsize ]; then v=$(redis-cli -p "$p" dbsize); else
      v=$(redis-cli -p "$p" info memory | tr -d '\r' | awk -F: -v f="$1" '$1 == f { print $2 }')
    fi
    s=$((s + v))
  done
  echo "$s"
}
# WAL between two positions by pg_waldump: "total bytes, of which full-page images" (or n/a).
waldump() {
  local out
  out=$("${C[PG_BIN]}/pg_waldump" --stats -p "${C[PRIMARY_DATA]}/pg_wal" -s "$1" -e "$2" 2>/dev/null) || { echo n/a; return; }
  awk '$1 == "Total" { gsub(/[()%]/, ""); print $2 " records, " $3 " record bytes + " $5 " FPI bytes"; exit }' <<<"$out"
}

# Before each measurement: no test run of the user's on the shared cores; note what else runs.
quiet() {
  local w=0 others
  while pgrep -f 'target/debug/deps/api-' >/dev/null; do sleep 10; w=$((w + 10)); done
  WAITED=$((WAITED + w))
  others=$(pgrep -l '^(cargo|rustc|cc|ld|python3|chromium|pgbench)$' 2>/dev/null | awk '{ print $2 }' | sort | uniq -c |
    awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }') || true
  [ "$w" -gt 0 ] && others="waited $w s for a test run${others:+; $others}"
  echo "   [$1: load $(cut -d' ' -f1-3 /proc/loadavg)${others:+; also: $others}]"
}

# --- wrk --------------------------------------------------------------------------------------
to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f\n", v / 1000 }
  else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f\n", v }
  else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f\n", v * 1000 } else print v }'; }
wrk_run() { # NAME CONNS URL [LUA]: sets W_RPS W_P50 W_P99 W_MAX W_NON2XX W_ERR
  local out
  # --timeout 10s: a slow answer is counted in the latencies, not as a socket error (wrk's
  # default, 2 s, would count it as one and leave it out of the percentiles).
  out=$(wrk -t2 -c"$2" -d"${DURATION}s" --timeout 10s --latency -H 'Accept-Encoding: gzip' ${4:+-s "$4"} "$3" 2>&1)
  echo "$out" >"$OUT/wrk-$1-c$2.txt"
  W_RPS=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
  W_P50=$(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms)
  W_P99=$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)
  W_MAX=$(awk '$1 == "Latency" { print $4; exit }' <<<"$out" | to_ms)
  W_NON2XX=$(awk '/Non-2xx/ { print $NF }' <<<"$out"); W_NON2XX=${W_NON2XX:-0}
  W_ERR=$(awk '/Socket errors/ { s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s }' <<<"$out"); W_ERR=${W_ERR:-0}
  printf '   %-26s c=%-4s %9s req/s  p50 %7s ms  p99 %7s ms  max %7s ms  non-2xx %s  socket errors %s\n' \
    "$1" "$2" "$W_RPS" "$W_P50" "$W_P99" "$W_MAX" "$W_NON2XX" "$W_ERR"
}

# --- codes: issue N through the API as admin -----------------------------------------------------
login() { # BASE -> token
  curl -fs -H 'content-type: application/json' \
    -d "{\"username\":\"${C[ADMIN_USERNAME]}\",\"password\":\"${C[ADMIN_PASSWORD]}\"}" \
    "$1/api/v1/auth/login" | jq -r .token
}
issue_codes() { # BASE TOKEN FILE: a fresh code for N open merchants (POST .../qrcode), one per line
  local ids=$OUT/ids.txt cfg=$OUT/issue.cfg
  # Not the demo page's merchant: re-issuing would withdraw the hot page of a.
  prim "SELECT id FROM merchants WHERE status = 'open' AND id NOT IN
    (SELECT merchant_id FROM shop_codes WHERE code = '${C[DEMO_CODE]}') ORDER BY id LIMIT $N" >"$ids"
  sed "s|.*|url = \"$1/api/v1/merchants/&/qrcode\"|" "$ids" >"$cfg"
  curl -s -X POST -H "authorization: Bearer $2" -w '\n' -K "$cfg" | jq -r 'select(.code) | .code' >"$3"
  [ "$(wc -l <"$3")" -eq "$(wc -l <"$ids")" ] || { echo "cluster.sh: issued $(wc -l <"$3") codes of $(wc -l <"$ids")" >&2; exit 1; }
}
codes_sql_array() { printf "ARRAY[%s]" "$(sed "s/.*/'&'/" "$1" | paste -sd,)"; }

# ================================================================================================
# Cluster 1: page cache on (a, c, d)
# ================================================================================================
cluster_up cache-on
A=${C[APP_A_URL]}; B=${C[APP_B_URL]}; NG=${C[NGINX_URL]}
AM=${C[APP_A_METRICS_URL]}; BM=${C[APP_B_METRICS_URL]}
PP=${C[PRIMARY_PORT]}; RP=${C[REPLICA_PORT]}

# --- d(ii) PostgreSQL bytes per merchant: the demo database vs one only migrated ----------------
# (VACUUM ANALYZE below also keeps autovacuum of the freshly loaded tables from adding its WAL
# to the WAL figures that follow.)
say "d(ii) PostgreSQL bytes per merchant (demo data, as loaded by serve --demo, vacuumed)"
quiet sizes
prim "CREATE DATABASE ydym_empty" >/dev/null
DATABASE_URL="postgres://postgres@127.0.0.1:$PP/ydym_empty" "$BIN" migrate >"$OUT/migrate-empty.log" 2>&1
sizes_sql="SELECT c.relname, pg_total_relation_size(c.oid), COALESCE(s.n_live_tup, 0)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
  WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
# Both vacuumed first, so that both have their visibility maps and free-space maps.
prim "VACUUM ANALYZE" ydym_empty >/dev/null
prim "VACUUM ANALYZE" >/dev/null
prim "$sizes_sql" ydym_empty | tr '|' ' ' | LC_ALL=C sort -k1,1 >"$OUT/sizes-empty.txt"
prim "$sizes_sql" | tr '|' ' ' | LC_ALL=C sort -k1,1 >"$OUT/sizes-demo.txt"
db_empty=$(prim "SELECT pg_database_size('ydym_empty')")
db_demo=$(prim "SELECT pg_database_size('yidianyima')")
merchants=$(prim "SELECT count(*) FROM merchants")
prim "DROP DATABASE ydym_empty" >/dev/null
per_merchant=$(((db_demo - db_empty) / merchants))
echo "   pg_database_size: demo $db_demo, migrated-only $db_empty; $merchants merchants: $per_merchant bytes per merchant"
echo "   per table (total relation size incl. indexes and TOAST, demo minus migrated-only; rows in demo):"
LC_ALL=C join -a1 "$OUT/sizes-demo.txt" "$OUT/sizes-empty.txt" |
  awk -v m="$merchants" '{ d = $2 - ($4 == "" ? 0 : $4); if (d > 0) printf "%s %d %d %.0f\n", $1, d, $3, d / m }' |
  sort -k2,2nr | awk '{ printf "     %-26s %10d bytes  %8d rows  %7d bytes/merchant\n", $1, $2, $3, $4 }' | tee "$OUT/sizes-per-table.txt" | head -12
row "PG bytes/merchant (demo, with records)" "$per_merchant (pg_database_size $db_demo - $db_empty migrated-only, / $merchants)"
top3=$(head -3 "$OUT/sizes-per-table.txt" | awk '{ printf "%s%s %s", sep, $1, $6; sep = ", " }')
row "  largest tables, bytes/merchant" "$top3"

# --- codes for N merchants ------------------------------------------------------------------------
TOKEN=$(login "$A")
issue_codes "$A" "$TOKEN" "$OUT/codes.txt"
say "issued $N codes through POST /api/v1/merchants/{id}/qrcode on app A"

# --- d(i) bytes per cached page -------------------------------------------------------------------
say "d(i) bytes per cached page: $N distinct codes scanned once through app A (cache on)"
quiet sweep
cache0=$(metric "$AM" yidianyima_page_cache_bytes)
rmem0=$(redis_sum used_memory); rkeys0=$(redis_sum dbsize)
wal_s0=$(lsn)
sc0=$(prim "SELECT pg_total_relation_size('scan_counts')"); scn0=$(prim "SELECT count(*) FROM scan_counts")
sed "s|.*|url = \"$A/s/&\"\noutput = /dev/null|" "$OUT/codes.txt" >"$OUT/sweep.cfg"
statuses=$(curl -s -H 'Accept-Encoding: gzip' -w '%{http_code}\n' -K "$OUT/sweep.cfg" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
wal_s1=$(lsn)
cache1=$(metric "$AM" yidianyima_page_cache_bytes)
rmem1=$(redis_sum used_memory); rkeys1=$(redis_sum dbsize)
one=$(head -1 "$OUT/codes.txt")
gz=$(curl -s -H 'Accept-Encoding: gzip' "$A/s/$one" | wc -c)
br=$(curl -s -H 'Accept-Encoding: br' "$A/s/$one" | wc -c)
html=$(curl -s "$A/s/$one" | wc -c)
gz_demo=$(curl -s -H 'Accept-Encoding: gzip' "$A/s/${C[DEMO_CODE]}" | wc -c)
per_local=$(((cache1 - cache0) / N))
rkeys=$((rkeys1 - rkeys0))
per_redis=$(((rmem1 - rmem0) / N))
echo "   answers: $statuses"
echo "   in-process cache: $cache0 -> $cache1 bytes: $per_local bytes per page (identity + gzip + brotli)"
echo "   Redis (3 masters): used_memory $rmem0 -> $rmem1, keys $rkeys0 -> $rkeys1: $per_redis bytes per page, $(( rkeys > 0 ? (rmem1 - rmem0) / rkeys : 0 )) per key"
echo "   one page ($one): html $html bytes, gzip $gz, brotli $br; the demo page ${C[DEMO_CODE]}: gzip $gz_demo"
row "cached page, in-process (A)" "$per_local bytes/page ($N pages)"
row "cached page, Redis used_memory delta" "$per_redis bytes/page ($rkeys keys for $N pages)"
row "one page: html / gzip / brotli" "$html / $gz / $br bytes (hot demo page gzip $gz_demo)"

# --- d(iii) WAL per scan-count row flushed ----------------------------------------------------------
# A counts scans in memory and adds them to scan_counts every 10 s in one statement.
say "d(iii) WAL of the scan-count flush of those $N scans"
arr=$(codes_sql_array "$OUT/codes.txt")
flushed=0
for _ in $(seq 1 60); do
  flushed=$(prim "SELECT count(*) FROM scan_counts WHERE code = ANY($arr)")
  [ "$flushed" -ge "$N" ] && break
  sleep 0.25
done
wal_s2=$(lsn)
sc1=$(prim "SELECT pg_total_relation_size('scan_counts')"); scn1=$(prim "SELECT count(*) FROM scan_counts")
scan_wal=$(lsn_diff "$wal_s1" "$wal_s2")
sweep_wal=$(lsn_diff "$wal_s0" "$wal_s1")
echo "   WAL during the sweep (renders; a GET never writes): $sweep_wal bytes"
echo "   WAL from the sweep's end to the flush ($flushed rows): $scan_wal bytes = $((scan_wal / (flushed > 0 ? flushed : 1))) bytes per row; pg_waldump: $(waldump "$wal_s1" "$wal_s2")"
echo "   scan_counts (table and indexes): $sc0 -> $sc1 bytes for $scn0 -> $scn1 rows"
row "WAL per scan-count row flushed" "$((scan_wal / (flushed > 0 ? flushed : 1))) bytes ($flushed rows in one flush; $sweep_wal bytes during the renders)"
row "PG bytes per scan_counts row (coarse)" "$(( (sc1 - sc0) / (scn1 - scn0 > 0 ? scn1 - scn0 : 1) )) ($((scn1 - scn0)) rows, 8 KiB pages)"

# --- a. the hot page: app A directly vs nginx ------------------------------------------------------
say "a. hot scan page /s/${C[DEMO_CODE]} (gzip), ${DURATION} s per run: app A directly vs nginx micro-cache"
access=${C[NGINX_DIR]}/access.log
curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$A/s/${C[DEMO_CODE]}"
for c in 64 256; do
  quiet "a direct c=$c"
  wrk_run direct-A "$c" "$A/s/${C[DEMO_CODE]}"
  d_rps=$W_RPS
  row "a. hot page direct A, c=$c" "$W_RPS req/s, p50 $W_P50 ms, p99 $W_P99 ms, max $W_MAX ms, non-2xx $W_NON2XX, errors $W_ERR"
  # The entry in nginx's cache first: with none, the requests that arrive while one fetches it
  # wait on proxy_cache_lock, which nginx polls every 500 ms, and those waits would be the
  # run's p99 (measured: ~460 ms) instead of its steady state.
  curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$NG/s/${C[DEMO_CODE]}"
  quiet "a nginx c=$c"
  before=$(wc -l <"$access")
  wrk_run nginx "$c" "$NG/s/${C[DEMO_CODE]}"
  cache=$(tail -n +"$((before + 1))" "$access" | awk '{ for (i = NF; i > 0; i--) if ($i ~ /^cache=/) { c[substr($i, 7)]++; break } }
    END { for (k in c) { printf "%s%s %d", sep, (k == "-" ? "none" : k), c[k]; sep = ", " } }')
  ratio=$(echo "scale=2; $W_RPS / $d_rps" | bc)
  echo "   X-Cache-Status (access log): $cache; nginx/direct: ${ratio}x"
  row "a. hot page via nginx, c=$c" "$W_RPS req/s, p50 $W_P50 ms, p99 $W_P99 ms, max $W_MAX ms, non-2xx $W_NON2XX, errors $W_ERR; ${ratio}x direct"
  row "   nginx cache status, c=$c" "$cache"
done

# --- c. replica lag under writes ---------------------------------------------------------------------
say "c. replica lag: complaint_load through nginx ($LOAD_CONNS clients, $LAG_SECS s), sampled every 200 ms"
quiet lag
samples=$OUT/lag-samples.txt
: >"$samples"
csize() { prim "SELECT pg_total_relation_size('complaints') || ' ' || pg_total_relation_size('complaint_events') || ' ' || pg_total_relation_size('audit_log')"; }
read -r cs0 ce0 ca0 <<<"$(csize)"
wal_c0=$(lsn); rows_c0=$(prim "SELECT count(*) FROM complaints")
"$EX/complaint_load" "$NG/api/v1/public/complaints" "$OUT/codes.txt" "$LOAD_CONNS" "$LAG_SECS" >"$OUT/complaint-load.txt" &
loader=$!
BG+=("$loader")
sleep 0.5 # samples only while the load runs (an idle replica's replay timestamp is just old)
(
  while kill -0 "$loader" 2>/dev/null; do
    t=$(date +%s%N)
    b=$(curl -s --max-time 1 "$BM" | awk '/^yidianyima_replica_lag_bytes\{/ { print $2; exit }')
    # Milliseconds since the last transaction the replica replayed (what was asked), and
    # whether it had replayed everything it had received then (1: caught up).
    r=$(sql "$RP" yidianyima "SELECT round(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000), (pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn())::int" 2>/dev/null | tr '|' ' ')
    p=$(sql "$PP" yidianyima "SELECT COALESCE(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint FROM pg_stat_replication" 2>/dev/null)
    echo "${b:-NA} ${r:-NA NA} ${p:-NA}" >>"$samples"
    left=$((200 - ($(date +%s%N) - t) / 1000000))
    if [ "$left" -gt 0 ]; then sleep "0.$(printf %03d "$left")"; fi
  done
) &
BG+=($!)
sampler=$!
wait "$loader"
wait "$sampler" 2>/dev/null || true
load=$(cat "$OUT/complaint-load.txt")
wal_c1=$(lsn); rows_c1=$(prim "SELECT count(*) FROM complaints")
echo "   complaint_load: $load"
echo "   complaints table gained $((rows_c1 - rows_c0)) rows; WAL $(lsn_diff "$wal_c0" "$wal_c1") bytes; pg_waldump: $(waldump "$wal_c0" "$wal_c1")"
pct() { # column -> "max M, p99 P, n N"
  awk -v c="$1" '$c != "NA" { print $c }' "$samples" | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "n/a"; exit } i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; printf "max %d, p99 %d (%d samples)", v[NR], v[i], NR }'
}
lag_b=$(pct 1); lag_ms=$(pct 2); lag_p=$(pct 4)
# column 2 again, but 0 where the replica had replayed all it had received
awk '$2 != "NA" { print ($3 == 1 ? 0 : $2) }' "$samples" >"$OUT/lag-ms-outstanding.txt"
lag_ms_out=$(sort -n "$OUT/lag-ms-outstanding.txt" | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
  i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; printf "max %d, p99 %d", v[NR], v[i] }')
created=$(sed -n 's/.* created \([0-9]*\).*/\1/p' <<<"$load")
c_rps=$(sed -n 's/.* rps \([0-9.]*\).*/\1/p' <<<"$load")
c_other=$(sed -n 's/.* other \([0-9]*\) errors \([0-9]*\).*/\1 other, \2 errors/p' <<<"$load")
stored=$((rows_c1 - rows_c0))
wal_per_c_load=$(( $(lsn_diff "$wal_c0" "$wal_c1") / (stored > 0 ? stored : 1) ))
echo "   B yidianyima_replica_lag_bytes: $lag_b"
echo "   replica now() - pg_last_xact_replay_timestamp(), ms: $lag_ms (0 while caught up: $lag_ms_out)"
echo "   primary pg_stat_replication bytes not replayed: $lag_p"
row "c. write load (complaints via nginx)" "$c_rps req/s, $created answered 201 ($stored stored), $c_other; $wal_per_c_load WAL bytes/complaint stored"
row "c. lag, B's yidianyima_replica_lag_bytes" "$lag_b"
row "c. lag, replica replay timestamp (ms)" "$lag_ms; 0 while caught up: $lag_ms_out"
row "c. lag, primary pg_stat_replication (bytes)" "$lag_p"

# --- d(iii) WAL per complaint: N complaints one after another through the API ------------------------
say "d(iii) WAL per complaint: $N complaints through nginx (fresh phone and Idempotency-Key each)"
quiet complaints
cfg=$OUT/complaints.cfg
: >"$cfg"
i=0
while IFS= read -r code; do
  i=$((i + 1))
  [ "$i" -gt 1 ] && echo next >>"$cfg"
  cat >>"$cfg" <<EOF
url = "$NG/api/v1/public/complaints"
silent
header = "content-type: application/json"
header = "Idempotency-Key: scale-$$-$i"
data = "{\"shop_code\":\"$code\",\"name\":\"压测用户\",\"phone\":\"137$(printf %08d "$i")\",\"category\":\"price\",\"description\":\"容量测试投诉：菜单标价与结账金额不一致，要求退还差价。\",\"amount_fen\":1000}"
output = /dev/null
write-out = "%{http_code}\\n"
EOF
done <"$OUT/codes.txt"
rows0=$(prim "SELECT count(*) FROM complaints")
# Right after a checkpoint, the first change to each page after it writes the whole page (FPI):
# the record bytes are the steady-state cost, records + FPIs the cost just after a checkpoint.
prim "CHECKPOINT" >/dev/null
wal_d0=$(lsn)
t=$(date +%s%N)
answers=$(curl -K "$cfg" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
ms=$((($(date +%s%N) - t) / 1000000))
wal_d1=$(lsn)
rows1=$(prim "SELECT count(*) FROM complaints")
filed=$((rows1 - rows0))
wal_d=$(lsn_diff "$wal_d0" "$wal_d1")
# The same wait with nothing sent: what the rest (monitors, flushes) writes meanwhile.
wal_i0=$(lsn); sleep "$(echo "scale=2; $ms / 1000" | bc)"; wal_i1=$(lsn)
idle=$(lsn_diff "$wal_i0" "$wal_i1")
echo "   answers: $answers in $ms ms; complaints stored: $filed"
echo "   WAL: $wal_d bytes = $((wal_d / (filed > 0 ? filed : 1))) bytes per complaint; pg_waldump: $(waldump "$wal_d0" "$wal_d1")"
echo "   WAL of the same time without requests: $idle bytes"
read -r cs1 ce1 ca1 <<<"$(csize)"
nc=$((rows1 - rows_c0))
echo "   storage of the $nc complaints of c and d(iii): complaints $((cs1 - cs0)), complaint_events $((ce1 - ce0)), audit_log $((ca1 - ca0)) bytes"
row "PG bytes per complaint stored" "$(( (cs1 - cs0 + ce1 - ce0 + ca1 - ca0) / (nc > 0 ? nc : 1) )) (complaints $(( (cs1 - cs0) / (nc > 0 ? nc : 1) )) + events $(( (ce1 - ce0) / (nc > 0 ? nc : 1) )) + audit $(( (ca1 - ca0) / (nc > 0 ? nc : 1) )); $nc complaints)"
dump=$(waldump "$wal_d0" "$wal_d1")
recs=$(awk '{ print $3 }' <<<"$dump")
row "d(iii) WAL per complaint (sequential)" "$((wal_d / (filed > 0 ? filed : 1))) bytes just after a CHECKPOINT; $(( ${recs:-0} / (filed > 0 ? filed : 1) )) without full-page images ($filed complaints; idle same time: $idle bytes)"

# --- d(ii) at ROWS merchants: registry rows only (gen_merchants, yidianyima import) -------------------
if [ "$ROWS" -gt 0 ]; then
  say "d(ii) PostgreSQL bytes per registry-only merchant: $ROWS generated merchants imported into a migrated database"
  quiet import
  db=ydym_rows
  prim "CREATE DATABASE $db" >/dev/null
  DATABASE_URL="postgres://postgres@127.0.0.1:$PP/$db" "$BIN" migrate >"$OUT/migrate-rows.log" 2>&1
  prim "VACUUM ANALYZE" "$db" >/dev/null
  s0=$(prim "SELECT pg_database_size('$db')")
  prim "$sizes_sql" "$db" | tr '|' ' ' | LC_ALL=C sort -k1,1 >"$OUT/sizes-rows-empty.txt"
  t=$SECONDS
  "$EX/gen_merchants" "$ROWS" >"$OUT/merchants.csv"
  DATABASE_URL="postgres://postgres@127.0.0.1:$PP/$db" RUST_LOG=warn "$BIN" import "$OUT/merchants.csv" >"$OUT/import.log" 2>&1 ||
    { echo "   import failed:"; tail -5 "$OUT/import.log"; }
  took=$((SECONDS - t))
  prim "VACUUM ANALYZE" "$db" >/dev/null
  n=$(prim "SELECT count(*) FROM merchants" "$db")
  s1=$(prim "SELECT pg_database_size('$db')")
  prim "$sizes_sql" "$db" | tr '|' ' ' | LC_ALL=C sort -k1,1 >"$OUT/sizes-rows.txt"
  prim "DROP DATABASE $db" >/dev/null
  rm -f "$OUT/merchants.csv"
  echo "   $n merchants imported in $took s; pg_database_size $s0 -> $s1: $(((s1 - s0) / (n > 0 ? n : 1))) bytes per merchant"
  LC_ALL=C join -a1 "$OUT/sizes-rows.txt" "$OUT/sizes-rows-empty.txt" |
    awk -v m="$n" '{ d = $2 - ($4 == "" ? 0 : $4); if (d > 8192) printf "     %-26s %10d bytes  %7.0f bytes/merchant\n", $1, d, d / m }' | sort -k2,2nr
  row "PG bytes/merchant ($n, registry only)" "$(((s1 - s0) / (n > 0 ? n : 1))) (imported in $took s)"
fi
cluster_down

# ================================================================================================
# Cluster 2: PAGE_CACHE=off (b): every scan renders
# ================================================================================================
export PAGE_CACHE=off
cluster_up cache-off
A=${C[APP_A_URL]}; B=${C[APP_B_URL]}; BM=${C[APP_B_METRICS_URL]}
TOKEN=$(login "$A")
issue_codes "$A" "$TOKEN" "$OUT/codes-off.txt"
lua=$OUT/random-code.lua
{
  echo "local codes = {"
  sed 's/.*/"&",/' "$OUT/codes-off.txt"
  cat <<'EOF'
}
local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args) math.randomseed(os.time() * 1000 + id) end
function request() return wrk.format("GET", "/s/" .. codes[math.random(#codes)]) end
EOF
} >"$lua"
say "b. uncached scan pages (PAGE_CACHE=off) over $N distinct codes on app B, c=$UNCACHED_CONNS, ${DURATION} s"
reads() { echo "$(metric "$BM" 'yidianyima_public_reads_total{target="primary"}') $(metric "$BM" 'yidianyima_public_reads_total{target="replica"}')"; }
for phase in with-replica replica-stopped; do
  if [ "$phase" = replica-stopped ]; then
    deploy/local-cluster.sh stop-replica "$CDIR" >>"$OUT/up-cache-off.log" 2>&1
    sleep 1 # the monitor (200 ms) sees it down
  fi
  quiet "b $phase"
  read -r p0 r0 <<<"$(reads)"
  wrk_run "uncached-B-$phase" "$UNCACHED_CONNS" "$B/s" "$lua"
  read -r p1 r1 <<<"$(reads)"
  dp=$((p1 - p0)); dr=$((r1 - r0))
  echo "   public reads on B: primary $dp, replica $dr"
  row "b. uncached B, $phase" "$W_RPS pages/s, p50 $W_P50 ms, p99 $W_P99 ms, max $W_MAX ms, non-2xx $W_NON2XX, errors $W_ERR; reads primary $dp / replica $dr"
done
cluster_down

# ================================================================================================
echo
echo "SUMMARY (bench/cluster.sh, $(date -u +%FT%TZ), $(nproc) cores, WORKERS=$WORKERS per instance, DURATION=${DURATION}s, N=$N)"
printf '%s\n' "${SUMMARY[@]}"
echo "total $((SECONDS - T0)) s (of which waiting for test runs: $WAITED s); outputs in $OUT"
