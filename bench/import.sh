#!/usr/bin/env bash
# Import of a generated 100,000-row file through `yidianyima import` (the same code path as
# POST /api/v1/imports), compared in the same run with PostgreSQL COPY of the same rows into the
# same table (same indexes); then the latency of `q` search at that size over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-100000}
SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
DB=ydym_bench_import
URL="$SERVER/$DB"
command -v bc >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bc; }
cargo build --release --quiet --bin yidianyima --example gen_merchants
bin=target/release/yidianyima
file=/tmp/ydym-bench-$ROWS.csv
target/release/examples/gen_merchants "$ROWS" > "$file"
echo "file: $file, $ROWS rows, $(du -h "$file" | cut -f1)"

fresh() {
  psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -qc "CREATE DATABASE $DB" >/dev/null
  DATABASE_URL=$URL RUST_LOG=warn "$bin" migrate >/dev/null
}

cols="uscc,name,legal_representative,category,region_code,address,phone,business_scope,registered_on,status"
best_copy=999999; best_import=999999
for run in 1 2 3; do
  fresh
  t0=$(date +%s.%N)
  psql "$URL" -qc "\\copy merchants($cols) FROM '$file' CSV HEADER"
  t1=$(date +%s.%N)
  copy_s=$(echo "$t1 - $t0" | bc -l)
  fresh
  t0=$(date +%s.%N)
  DATABASE_URL=$URL RUST_LOG=warn "$bin" import "$file" >/dev/null
  t1=$(date +%s.%N)
  import_s=$(echo "$t1 - $t0" | bc -l)
  n=$(psql "$URL" -Atc "SELECT count(*) FROM merchants")
  [ "$n" = "$ROWS" ] || { echo "import wrote $n rows, expected $ROWS"; exit 1; }
  printf 'run %d: COPY %.2fs (%.0f rows/s)   import %.2fs (%.0f rows/s)   ratio %.2f\n' \
    "$run" "$copy_s" "$(echo "$ROWS / $copy_s" | bc -l)" "$import_s" "$(echo "$ROWS / $import_s" | bc -l)" \
    "$(echo "$copy_s / $import_s" | bc -l)"
  best_copy=$(echo "if ($copy_s < $best_copy) $copy_s else $best_copy" | bc -l)
  best_import=$(echo "if ($import_s < $best_import) $import_s else $best_import" | bc -l)
done
printf 'best: COPY %.2fs, import %.2fs: import runs at %.2fx COPY (target >= 0.3x)\n' \
  "$best_copy" "$best_import" "$(echo "$best_copy / $best_import" | bc -l)"

# Search latency at this size, over HTTP, through the real handler (auth, count, page).
port=18081
printf 'bench-admin-password\n' | DATABASE_URL=$URL RUST_LOG=warn "$bin" user create --username bench --role admin --password-stdin >/dev/null
DATABASE_URL=$URL BIND=127.0.0.1:$port JWT_SECRET=bench-secret-bench-secret-bench-secret RUST_LOG=warn "$bin" serve >/tmp/ydym-bench-serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
token=$(curl -fs -H 'content-type: application/json' -d '{"username":"bench","password":"bench-admin-password"}' \
  "http://127.0.0.1:$port/api/v1/auth/login" | sed 's/.*"token":"\([^"]*\)".*/\1/')
some_uscc=$(psql "$URL" -Atc "SELECT substr(uscc, 9, 8) FROM merchants OFFSET 5000 LIMIT 1")
for q in "%E8%97%8F%E5%AE%B6%E9%A5%AD%E5%BA%97" "%E9%9B%AA%E5%B1%B1" "$some_uscc" "zz-no-match"; do
  times=()
  for _ in $(seq 1 30); do
    times+=("$(curl -fs -o /dev/null -w '%{time_total}' -H "authorization: Bearer $token" \
      "http://127.0.0.1:$port/api/v1/merchants?q=$q&per_page=50")")
  done
  total=$(curl -fs -H "authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/merchants?q=$q&per_page=1" | sed 's/.*"total":\([0-9]*\).*/\1/')
  printf '%s\n' "${times[@]}" | sort -n | awk -v q="$(printf '%b' "${q//%/\\x}")" -v total="$total" \
    '{a[NR]=$1} END {printf "q=%-12s matches %6d   p50 %.1f ms   p95 %.1f ms\n", q, total, a[int(NR*0.5)]*1000, a[int(NR*0.95)]*1000}'
done
psql "$URL" -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM merchants WHERE name ILIKE '%藏家饭店%' OR uscc LIKE '%${some_uscc}%' ORDER BY id DESC LIMIT 50" | sed -n '1,12p'
