#!/usr/bin/env bash
# The production shape on one machine, as plain processes (no Docker), each on a free port of
# its own, everything under one directory:
#   PostgreSQL primary + a streaming replica (pg_basebackup -R -X stream, a replication slot),
#   a Redis Cluster of three masters (no replicas), two app instances (A loads the demo data),
#   nginx from deploy/nginx.conf in front of both.
# The shared PostgreSQL on 5432 and Redis on 6379 are never used or touched.
#
#   deploy/local-cluster.sh up [DIR]          start (DIR default: a fresh /tmp/ydym-cluster.XXXXXX);
#                                             writes DIR/cluster.env, prints a summary
#   deploy/local-cluster.sh down [DIR]        stop exactly what `up` started, remove DIR (KEEP=1
#                                             keeps it); safe to call twice
#   deploy/local-cluster.sh status [DIR]      the summary again, with what is running
#   deploy/local-cluster.sh stop-replica [DIR]     pg_ctl stop -m fast of the replica
#   deploy/local-cluster.sh start-replica [DIR]    start it again; waits until it streams
#   deploy/local-cluster.sh stop-redis [DIR] PORT [kill|shutdown]   one master down (default
#                                             SIGKILL; `shutdown`: SHUTDOWN NOSAVE)
#   deploy/local-cluster.sh start-redis [DIR] PORT  restart it with its nodes.conf (it rejoins);
#                                             waits for cluster_state:ok on every node
# Without DIR the commands other than `up` use the last cluster (/tmp/ydym-cluster.last, or
# CLUSTER_LAST_FILE: tests running clusters side by side can keep their own).
#
# Environment: YIDIANYIMA_BIN (default target/release/yidianyima, built if missing),
# PG_BIN_DIR (default the newest /usr/lib/postgresql/*/bin), WORKERS (1 per instance),
# RUST_LOG (info), REDIS_NODE_TIMEOUT_MS (3000), APP_START_TIMEOUT (120 s), KEEP=1 (down, or a
# failed up: keep DIR and its logs), NO_NGINX=1 (no nginx: PUBLIC_BASE_URL is app A's URL and
# NGINX_URL is empty). Any other setting of the service in the environment
# (DATABASE_POOL_SIZE, PAGE_CACHE, ...) reaches both instances.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAST=${CLUSTER_LAST_FILE:-/tmp/ydym-cluster.last}
# Held by `up` from choosing ports until everything listens: concurrent `up`s take turns
# instead of choosing the same free ports. Never inherited by the processes started (9>&-).
LOCK=/tmp/ydym-cluster.lock
DEMO_PASSWORD_DEFAULT=demo-2026-yidianyima

die() { echo "local-cluster: $*" >&2; exit 1; }
say() { echo "local-cluster: $*" >&2; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# --- cluster.env: KEY=value lines, no quotes (values never contain newlines) -------------------
put() { # KEY VALUE: set (replace in place or append)
  local f=$DIR/cluster.env
  touch "$f"
  awk -v k="$1" -v v="$2" 'index($0, k "=") == 1 { print k "=" v; done = 1; next } { print }
    END { if (!done) print k "=" v }' "$f" >"$f.tmp"
  mv "$f.tmp" "$f"
}
get() { # KEY -> value (empty if absent)
  [ -f "$DIR/cluster.env" ] || return 0
  awk -v k="$1" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' "$DIR/cluster.env"
}

# --- processes ----------------------------------------------------------------------------------
alive() { # PID: running (a zombie is not)
  [ -n "$1" ] && [ -e "/proc/$1/stat" ] || return 1
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
owns() { # PID NEEDLE: the process's command line or environment contains NEEDLE (not a reused pid)
  { tr '\0' '\n' <"/proc/$1/cmdline"; tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -F -- "$2" >/dev/null
}
wait_gone() { # SECONDS PID...: poll until none is alive; 1 if some still are
  local deadline=$((SECONDS + $1)) p left; shift
  while :; do
    left=
    for p in "$@"; do alive "$p" && left=1; done
    [ -z "$left" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}
stop_procs() { # SIGNAL "pid needle"...: signal each recorded process that is still ours, wait
  local sig=$1 pid needle pids=(); shift
  for pn in "$@"; do
    pid=${pn%% *}; needle=${pn#* }
    if [ -n "$pid" ] && alive "$pid" && owns "$pid" "$needle" && kill "-$sig" "$pid" 2>/dev/null; then
      pids+=("$pid")
    fi
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  if ! wait_gone 15 "${pids[@]}"; then
    for pid in "${pids[@]}"; do alive "$pid" && { say "pid $pid did not stop in 15 s: SIGKILL"; kill -9 "$pid" 2>/dev/null; }; done
    wait_gone 5 "${pids[@]}" || true
  fi
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done # reap our own children
}

used_ports=" "
is_listening() { ss -Htln 2>/dev/null | awk '{print $4}' | grep ":$1\$" >/dev/null; }
pick_port() { # VAR FROM [bus]: the first port >= FROM free now and not picked before (bus: +10000 too)
  local p=$2
  while is_listening "$p" || [[ $used_ports == *" $p "* ]] ||
    { [ "${3:-}" = bus ] && { is_listening $((p + 10000)) || [[ $used_ports == *" $((p + 10000)) "* ]]; }; }; do
    p=$((p + 1))
  done
  used_ports+="$p "
  [ "${3:-}" = bus ] && used_ports+="$((p + 10000)) "
  printf -v "$1" %s "$p"
}

listens() { # PORT PID: PID (not some other process) listens on 127.0.0.1:PORT
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -F "pid=$2," >/dev/null
}

until_ok() { # SECONDS WHAT COMMAND...: retry every 0.1 s
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && { say "timed out after $deadline s waiting for $what"; return 1; }
    sleep 0.1
  done
}

# --- PostgreSQL ---------------------------------------------------------------------------------
pg_bin() {
  local d=${PG_BIN_DIR:-}
  # shellcheck disable=SC2012 # version-sorted directory names
  [ -n "$d" ] || d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || { command -v pg_ctl >/dev/null && d=$(dirname "$(command -v pg_ctl)"); }
  [ -x "$d/pg_ctl" ] || die "no PostgreSQL server binaries (apt-get install postgresql, or set PG_BIN_DIR)"
  echo "$d"
}
psql_at() { # PORT SQL: one value, unaligned
  "$PG_BIN/psql" -X -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc "$2"
}
pg_start() { # DATA LOG
  as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$2" -w -t 60 start >/dev/null 9>&-
}
pg_stop() { # DATA: fast shutdown of a cluster under DIR only, if it runs
  local data=$1
  [ -n "$data" ] && [[ $data == "$DIR"/* ]] || return 0
  [ -f "$data/postmaster.pid" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
}
postmaster_pid() { head -1 "$1/postmaster.pid" 2>/dev/null || true; }
replica_streams() { # the replica is in recovery and its WAL receiver streams
  [ "$(psql_at "$(get REPLICA_PORT)" "SELECT pg_is_in_recovery() || '/' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')")" = "true/streaming" ]
}
replica_caught_up() { # the replica has replayed the primary's WAL up to LSN
  [ "$(psql_at "$(get REPLICA_PORT)" "SELECT pg_last_wal_replay_lsn() >= '$1'::pg_lsn")" = t ]
}
wait_replica() {
  until_ok 30 "the replica to stream from the primary" replica_streams
  local lsn
  lsn=$(psql_at "$(get PRIMARY_PORT)" "SELECT pg_current_wal_flush_lsn()")
  until_ok 30 "the replica to replay up to $lsn" replica_caught_up "$lsn"
}

# --- Redis --------------------------------------------------------------------------------------
redis_start_node() { # PORT: the same command line every time (nodes.conf keeps its identity)
  local p=$1 d=$DIR/redis-$1
  mkdir -p "$d"
  redis-server --port "$p" --bind 127.0.0.1 --dir "$d" \
    --cluster-enabled yes --cluster-config-file "$d/nodes.conf" \
    --cluster-node-timeout "${REDIS_NODE_TIMEOUT_MS:-3000}" \
    --appendonly no --save '' --daemonize no </dev/null >>"$d/redis.log" 2>&1 9>&- &
  local pid=$!
  put "PID_REDIS_$p" "$pid"
  until_ok 10 "redis on $p" listens "$p" "$pid" || {
    alive "$pid" || put "PID_REDIS_$p" ""
    say "redis-server $pid does not listen on $p (taken by another process?)"; tail -5 "$d/redis.log" >&2; return 1
  }
  until_ok 10 "redis on $p" redis_pong "$p" || { tail -5 "$d/redis.log" >&2; return 1; }
}
redis_pong() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }
cluster_ok_everywhere() {
  local p
  for p in $(get REDIS_PORTS); do
    redis-cli -p "$p" cluster info 2>/dev/null | grep '^cluster_state:ok' >/dev/null || return 1
  done
}

# --- apps ---------------------------------------------------------------------------------------
app_ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1/readyz")" = 200 ]; }
start_app() { # NAME(A|B) ARGS...
  local name=$1 lower port mport pid deadline; shift
  lower=${name,,}
  port=$(get "APP_${name}_PORT"); mport=$(get "APP_${name}_METRICS_PORT")
  local envs=()
  mapfile -t envs < <(grep -v '^#' "$DIR/app.env")
  env "${envs[@]}" BIND="127.0.0.1:$port" METRICS_BIND="127.0.0.1:$mport" \
    "$BIN" "$@" </dev/null >>"$DIR/app-$lower.log" 2>&1 9>&- &
  pid=$!
  put "PID_APP_$name" "$pid"
  deadline=$((SECONDS + ${APP_START_TIMEOUT:-120}))
  until listens "$port" "$pid" && app_ready "http://127.0.0.1:$port"; do
    if ! alive "$pid"; then say "app $name exited; its log:"; tail -20 "$DIR/app-$lower.log" >&2; return 1; fi
    if [ "$SECONDS" -ge "$deadline" ]; then say "app $name not ready after ${APP_START_TIMEOUT:-120} s"; tail -20 "$DIR/app-$lower.log" >&2; return 1; fi
    sleep 0.2
  done
}

# --- the commands -------------------------------------------------------------------------------
cmd_up() {
  local t0=$SECONDS
  local with_nginx=1 tool
  [ "${NO_NGINX:-0}" = 1 ] && with_nginx=
  for tool in redis-server redis-cli curl ss flock ${with_nginx:+nginx}; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install postgresql redis-server nginx curl iproute2 util-linux)"
  done
  PG_BIN=$(pg_bin)
  BIN=${YIDIANYIMA_BIN:-$ROOT/target/release/yidianyima}
  if [ ! -x "$BIN" ]; then
    [ -z "${YIDIANYIMA_BIN:-}" ] || die "YIDIANYIMA_BIN=$BIN is not an executable"
    say "building $BIN"
    (cd "$ROOT" && nice -n 10 cargo build --release --bin yidianyima)
  fi
  exec 9>>"$LOCK"
  if ! flock -w 300 9; then die "another up held $LOCK for 300 s"; fi
  DIR=${1:-}
  if [ -z "$DIR" ]; then
    DIR=$(mktemp -d /tmp/ydym-cluster.XXXXXX)
  elif [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR exists and is not empty"
  else
    mkdir -p "$DIR"
  fi
  DIR=$(cd "$DIR" && pwd)
  chmod 755 "$DIR" # postgres (as_pg) and nginx's workers must reach their subdirectories
  prev=
  prev=$(cat "$LAST" 2>/dev/null || true)
  if [ -n "$prev" ] && [ -f "$prev/cluster.env" ]; then
    say "note: $prev is still recorded as a cluster; stop it with: $0 down $prev"
  fi
  echo "$DIR" >"$LAST"
  : >"$DIR/cluster.env"
  up_done=
  # shellcheck disable=SC2317 # called by the trap
  on_exit() {
    local rc=$?
    [ -n "$up_done" ] && return 0
    say "up failed (exit $rc): stopping what it started${KEEP:+ (KEEP=1: $DIR kept)}"
    cmd_down "$DIR" || true
    # The cluster recorded before this attempt is the last one again.
    if [ -n "$prev" ] && [ -f "$prev/cluster.env" ] && [ ! -e "$LAST" ]; then echo "$prev" >"$LAST"; fi
  }
  trap on_exit EXIT
  trap 'exit 130' INT TERM

  local pgp pgr r1 r2 r3 np ap bp amp bmp
  pick_port pgp 25500; pick_port pgr $((pgp + 1))
  pick_port r1 17100 bus; pick_port r2 $((r1 + 1)) bus; pick_port r3 $((r2 + 1)) bus
  pick_port np 18400; pick_port ap $((np + 1)); pick_port bp $((ap + 1))
  pick_port amp $((bp + 1)); pick_port bmp $((amp + 1))

  put CLUSTER_DIR "$DIR"
  put YIDIANYIMA_BIN "$BIN"
  put PG_BIN "$PG_BIN"
  put PRIMARY_PORT "$pgp"; put REPLICA_PORT "$pgr"
  put PRIMARY_URL "postgres://postgres@127.0.0.1:$pgp/yidianyima"
  put REPLICA_URL "postgres://postgres@127.0.0.1:$pgr/yidianyima"
  put PRIMARY_DATA "$DIR/pg-primary"; put REPLICA_DATA "$DIR/pg-replica"
  put PRIMARY_LOG "$DIR/pg-primary.log"; put REPLICA_LOG "$DIR/pg-replica.log"
  put REPLICATION_SLOT ydym_replica
  put REDIS_PORTS "$r1 $r2 $r3"
  put REDIS_NODES "127.0.0.1:$r1,127.0.0.1:$r2,127.0.0.1:$r3"
  for p in $r1 $r2 $r3; do put "REDIS_DATA_$p" "$DIR/redis-$p"; done
  # The public base: nginx, or app A without it.
  local public=http://127.0.0.1:$np
  if [ -n "$with_nginx" ]; then
    put NGINX_PORT "$np"; put NGINX_URL "$public"; put NGINX_DIR "$DIR/nginx"
  else
    public=http://127.0.0.1:$ap
    put NGINX_PORT ""; put NGINX_URL ""; put NGINX_DIR ""
  fi
  put PUBLIC_BASE_URL "$public"
  put APP_A_PORT "$ap"; put APP_B_PORT "$bp"
  put APP_A_METRICS_PORT "$amp"; put APP_B_METRICS_PORT "$bmp"
  put APP_A_URL "http://127.0.0.1:$ap"; put APP_B_URL "http://127.0.0.1:$bp"
  put APP_A_METRICS_URL "http://127.0.0.1:$amp/metrics"; put APP_B_METRICS_URL "http://127.0.0.1:$bmp/metrics"
  put APP_A_LOG "$DIR/app-a.log"; put APP_B_LOG "$DIR/app-b.log"
  put APP_ENV_FILE "$DIR/app.env"

  # PostgreSQL primary: trust on 127.0.0.1 (replication included), nothing else listens.
  local pd=$DIR/pg-primary rd=$DIR/pg-replica t
  mkdir -p "$pd" "$rd"
  touch "$DIR/pg-primary.log" "$DIR/pg-replica.log"
  if [ "$(id -u)" = 0 ]; then chown postgres "$pd" "$rd" "$DIR/pg-primary.log" "$DIR/pg-replica.log"; fi
  chmod 700 "$pd" "$rd"
  t=$SECONDS
  as_pg "$PG_BIN/initdb" -D "$pd" -A trust -U postgres -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 ||
    { cat "$DIR/initdb.log" >&2; return 1; }
  cat >>"$pd/postgresql.conf" <<EOF

# deploy/local-cluster.sh
listen_addresses = '127.0.0.1'
port = $pgp
unix_socket_directories = '$pd'
max_connections = 200
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
EOF
  cat >"$pd/pg_hba.conf" <<EOF
# deploy/local-cluster.sh: trust, local socket and 127.0.0.1 only
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  trust
host    replication  all   127.0.0.1/32  trust
EOF
  pg_start "$pd" "$DIR/pg-primary.log" || { tail -20 "$DIR/pg-primary.log" >&2; return 1; }
  put PID_PRIMARY "$(postmaster_pid "$pd")"
  psql_at "$pgp" "CREATE DATABASE yidianyima" >/dev/null
  say "PostgreSQL primary on $pgp ($((SECONDS - t)) s)"

  # The replica: a base backup streamed from the primary through a slot (the primary keeps the
  # WAL while the replica is stopped), -R writes primary_conninfo and standby.signal.
  t=$SECONDS
  as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pgp" -U postgres -D "$rd" -R -X stream \
    -C -S ydym_replica -c fast --no-sync >"$DIR/basebackup.log" 2>&1 || { cat "$DIR/basebackup.log" >&2; return 1; }
  cat >>"$rd/postgresql.conf" <<EOF

# deploy/local-cluster.sh: the replica
port = $pgr
unix_socket_directories = '$rd'
EOF
  pg_start "$rd" "$DIR/pg-replica.log" || { tail -20 "$DIR/pg-replica.log" >&2; return 1; }
  put PID_REPLICA "$(postmaster_pid "$rd")"
  wait_replica
  say "PostgreSQL replica on $pgr, streaming ($((SECONDS - t)) s)"

  # Redis Cluster: three masters, no replicas.
  t=$SECONDS
  for p in $r1 $r2 $r3; do redis_start_node "$p"; done
  redis-cli --cluster create "127.0.0.1:$r1" "127.0.0.1:$r2" "127.0.0.1:$r3" \
    --cluster-replicas 0 --cluster-yes >"$DIR/redis-cluster-create.log" 2>&1 ||
    { cat "$DIR/redis-cluster-create.log" >&2; return 1; }
  until_ok 30 "cluster_state:ok on every Redis node" cluster_ok_everywhere
  say "Redis Cluster on $r1 $r2 $r3 ($((SECONDS - t)) s)"

  # The apps: one environment for both (app.env), A loads the demo data first.
  local secret
  secret=$(head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n')
  put JWT_SECRET "$secret"
  cat >"$DIR/app.env" <<EOF
# deploy/local-cluster.sh: the environment of every app instance (BIND and METRICS_BIND apart)
DATABASE_URL=postgres://postgres@127.0.0.1:$pgp/yidianyima
DATABASE_REPLICA_URLS=postgres://postgres@127.0.0.1:$pgr/yidianyima
REDIS_CLUSTER_NODES=127.0.0.1:$r1,127.0.0.1:$r2,127.0.0.1:$r3
REDIS_URL=redis://127.0.0.1:$r1
JWT_SECRET=$secret
TRUSTED_PROXIES=127.0.0.1
PUBLIC_BASE_URL=$public
WORKERS=${WORKERS:-1}
LOG_FORMAT=text
RUST_LOG=${RUST_LOG:-info}
EOF
  t=$SECONDS
  start_app A serve --demo
  say "app A on $ap, demo data loaded ($((SECONDS - t)) s)"
  t=$SECONDS
  start_app B serve
  say "app B on $bp ($((SECONDS - t)) s)"

  # nginx from the template.
  local nd=$DIR/nginx
  if [ -n "$with_nginx" ]; then
    mkdir -p "$nd"
    sed -e "s|\${YDYM_LISTEN}|127.0.0.1:$np|g" \
      -e "s|\${YDYM_APP_A}|127.0.0.1:$ap|g" -e "s|\${YDYM_APP_B}|127.0.0.1:$bp|g" \
      -e "s|\${YDYM_STATE_DIR}|$nd|g" -e "s|\${YDYM_LOG_DIR}|$nd|g" \
      "$ROOT/deploy/nginx.conf" >"$nd/nginx.conf"
    # shellcheck disable=SC2016 # a literal ${
    if grep -v '^[[:space:]]*#' "$nd/nginx.conf" | grep '\${' >/dev/null; then die "placeholders left in $nd/nginx.conf"; fi
    nginx -t -q -p "$nd" -e "$nd/error.log" -c "$nd/nginx.conf" 2>"$nd/nginx-t.log" ||
      { cat "$nd/nginx-t.log" >&2; return 1; }
    nginx -p "$nd" -e "$nd/error.log" -c "$nd/nginx.conf" -g 'daemon off;' </dev/null >>"$nd/nginx.out" 2>&1 9>&- &
    local npid=$!
    put PID_NGINX "$npid"
    until_ok 10 "nginx on $np" listens "$np" "$npid" || { tail -5 "$nd/error.log" >&2; return 1; }
    until_ok 10 "nginx on $np" app_ready "http://127.0.0.1:$np" || { tail -5 "$nd/error.log" >&2; return 1; }
  fi

  # What a test needs to sign in and to open a scan page.
  local pw code
  pw=$(sed -n 's/.*password for all: \([^)]*\)).*/\1/p' "$DIR/app-a.log" | sed -n 1p)
  put ADMIN_USERNAME admin
  put ADMIN_PASSWORD "${pw:-$DEMO_PASSWORD_DEFAULT}"
  put REGULATOR_USERNAME reg-513200
  put MERCHANT_USERNAME shop-001
  put DEMO_PASSWORD "${pw:-$DEMO_PASSWORD_DEFAULT}"
  # The first scan page `serve --demo` printed (a grade-A restaurant), else any live code.
  code=$(grep -o "$public/s/[A-Za-z0-9_-]\+" "$DIR/app-a.log" | sed -n '1s|.*/s/||p' || true)
  [ -n "$code" ] || code=$("$PG_BIN/psql" -X -h 127.0.0.1 -p "$pgp" -U postgres -d yidianyima -Atqc \
    "SELECT code FROM shop_codes WHERE revoked_at IS NULL ORDER BY code LIMIT 1" 2>/dev/null || true)
  put DEMO_CODE "$code"
  put DEMO_SCAN_URL "$public/s/$code"
  local login
  login=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$(get ADMIN_PASSWORD)\"}" "$public/api/v1/auth/login" || true)
  [ "$login" = 200 ] || say "warning: the admin login at $public answered $login"

  up_done=1
  trap - EXIT INT TERM
  flock -u 9; exec 9>&-
  summary
  echo "up in $((SECONDS - t0)) s; environment: $DIR/cluster.env; stop: deploy/local-cluster.sh down $DIR"
  echo "$DIR"
}

summary() {
  local p st
  state() { if alive "$1"; then echo up; else echo DOWN; fi; }
  printf '%-14s %-50s %-8s %-5s %s\n' component address pid state "data / log"
  if [ -n "$(get NGINX_URL)" ]; then
    printf '%-14s %-50s %-8s %-5s %s\n' nginx "$(get NGINX_URL)" "$(get PID_NGINX)" "$(state "$(get PID_NGINX)")" "$(get NGINX_DIR)"
  else
    printf '%-14s %-50s\n' nginx "(not started: NO_NGINX=1)"
  fi
  for n in A B; do
    printf '%-14s %-50s %-8s %-5s %s\n' "app $n" "$(get "APP_${n}_URL") (metrics :$(get "APP_${n}_METRICS_PORT"))" \
      "$(get "PID_APP_$n")" "$(state "$(get "PID_APP_$n")")" "$(get "APP_${n}_LOG")"
  done
  printf '%-14s %-50s %-8s %-5s %s\n' "pg primary" "$(get PRIMARY_URL)" "$(get PID_PRIMARY)" "$(state "$(postmaster_pid "$(get PRIMARY_DATA)")")" "$(get PRIMARY_DATA)"
  printf '%-14s %-50s %-8s %-5s %s\n' "pg replica" "$(get REPLICA_URL)" "$(get PID_REPLICA)" "$(state "$(postmaster_pid "$(get REPLICA_DATA)")")" "$(get REPLICA_DATA)"
  for p in $(get REDIS_PORTS); do
    st=$(state "$(get "PID_REDIS_$p")")
    printf '%-14s %-50s %-8s %-5s %s\n' "redis master" "127.0.0.1:$p" "$(get "PID_REDIS_$p")" "$st" "$(get "REDIS_DATA_$p")"
  done
  echo "admin login: $(get ADMIN_USERNAME) / $(get ADMIN_PASSWORD); a scan page: $(get DEMO_SCAN_URL)"
}

cmd_down() {
  DIR=${1:-}
  [ -n "$DIR" ] || DIR=$(cat "$LAST" 2>/dev/null || true)
  [ -n "$DIR" ] || { say "no cluster recorded in $LAST: nothing to stop"; return 0; }
  [ -d "$DIR" ] || { say "$DIR does not exist: nothing to stop"; [ "$(cat "$LAST" 2>/dev/null)" = "$DIR" ] && rm -f "$LAST"; return 0; }
  DIR=$(cd "$DIR" && pwd)
  [ -f "$DIR/cluster.env" ] || die "$DIR has no cluster.env: not a cluster of this script, left alone"
  if [ -s "$DIR/cluster.env" ] && [ "$(get CLUSTER_DIR)" != "$DIR" ]; then
    die "$DIR/cluster.env names another directory ($(get CLUSTER_DIR)): left alone"
  fi
  set +e
  local t0=$SECONDS p procs=()
  PG_BIN=$(get PG_BIN); [ -n "$PG_BIN" ] || PG_BIN=$(pg_bin)
  # The front first, so that nothing new arrives; SIGTERM: the apps finish in-flight requests.
  [ -n "$(get PID_NGINX)" ] && procs+=("$(get PID_NGINX) $DIR/nginx/nginx.conf")
  for n in A B; do [ -n "$(get "PID_APP_$n")" ] && procs+=("$(get "PID_APP_$n") BIND=127.0.0.1:$(get "APP_${n}_PORT")"); done
  stop_procs TERM "${procs[@]}"
  local t1=$SECONDS
  procs=()
  for p in $(get REDIS_PORTS); do [ -n "$(get "PID_REDIS_$p")" ] && procs+=("$(get "PID_REDIS_$p") 127.0.0.1:$p"); done
  stop_procs TERM "${procs[@]}"
  local t2=$SECONDS
  pg_stop "$(get REPLICA_DATA)"
  pg_stop "$(get PRIMARY_DATA)"
  say "nginx and apps stopped in $((t1 - t0)) s, Redis in $((t2 - t1)) s, PostgreSQL in $((SECONDS - t2)) s"
  set -e
  if [ "$(cat "$LAST" 2>/dev/null)" = "$DIR" ]; then rm -f "$LAST"; fi
  if [ -n "${KEEP:-}" ]; then
    for k in PID_NGINX PID_APP_A PID_APP_B PID_PRIMARY PID_REPLICA; do put "$k" ""; done
    for p in $(get REDIS_PORTS); do put "PID_REDIS_$p" ""; done
    say "stopped in $((SECONDS - t0)) s; $DIR kept (KEEP=1)"
  else
    rm -rf "$DIR"
    say "stopped in $((SECONDS - t0)) s; $DIR removed"
  fi
}

use_dir() { # [DIR]: the cluster to act on
  DIR=${1:-}
  [ -n "$DIR" ] || DIR=$(cat "$LAST" 2>/dev/null || true)
  if [ -z "$DIR" ] || [ ! -f "$DIR/cluster.env" ]; then die "no cluster at '${DIR:-}' (give its DIR, or run up)"; fi
  DIR=$(cd "$DIR" && pwd)
  PG_BIN=$(get PG_BIN)
}

cmd_stop_replica() {
  use_dir "${1:-}"
  pg_stop "$(get REPLICA_DATA)"
  put PID_REPLICA ""
  say "replica on $(get REPLICA_PORT) stopped"
}

cmd_start_replica() {
  use_dir "${1:-}"
  local rd
  rd=$(get REPLICA_DATA)
  if ! as_pg "$PG_BIN/pg_ctl" -D "$rd" status >/dev/null 2>&1; then
    pg_start "$rd" "$(get REPLICA_LOG)" || { tail -20 "$(get REPLICA_LOG)" >&2; return 1; }
  fi
  put PID_REPLICA "$(postmaster_pid "$rd")"
  wait_replica
  say "replica on $(get REPLICA_PORT) streaming and caught up"
}

redis_args() { # [DIR] PORT [MODE] -> sets DIR, PORT, MODE
  if [ $# -ge 2 ] && [ -d "$1" ]; then use_dir "$1"; shift; else use_dir ""; fi
  PORT=${1:-}; MODE=${2:-kill}
  [[ " $(get REDIS_PORTS) " == *" $PORT "* ]] || die "$PORT is not one of this cluster's Redis ports ($(get REDIS_PORTS))"
}

cmd_stop_redis() {
  redis_args "$@"
  local pid
  pid=$(get "PID_REDIS_$PORT")
  if alive "$pid" && owns "$pid" "127.0.0.1:$PORT"; then
    case $MODE in
      kill) kill -9 "$pid" ;;
      shutdown) redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" ;;
      *) die "stop-redis: mode is kill or shutdown, not $MODE" ;;
    esac
    wait_gone 10 "$pid" || die "redis $PORT (pid $pid) did not stop"
    say "redis master $PORT stopped ($MODE)"
  elif redis_pong "$PORT"; then
    die "redis on $PORT answers but is not the process recorded in $DIR/cluster.env: not touched"
  else
    say "redis master $PORT was not running"
  fi
  put "PID_REDIS_$PORT" ""
}

cmd_start_redis() {
  redis_args "$@"
  if redis_pong "$PORT"; then say "redis $PORT already answers"; else redis_start_node "$PORT"; fi
  until_ok 60 "cluster_state:ok on every Redis node" cluster_ok_everywhere
  say "redis master $PORT back (pid $(get "PID_REDIS_$PORT")); cluster_state:ok"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; use_dir "${1:-}"; summary ;;
  stop-replica) shift; cmd_stop_replica "$@" ;;
  start-replica) shift; cmd_start_replica "$@" ;;
  stop-redis) shift; cmd_stop_redis "$@" ;;
  start-redis) shift; cmd_start_redis "$@" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
