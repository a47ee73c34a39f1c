#!/bin/bash
# docker-compose.yml, profile `cluster`: prepares the primary (service `postgres`) for the
# streaming replica, once per start and idempotently, so that the default `postgres` service stays
# as it is and an existing data volume works too (a /docker-entrypoint-initdb.d script would run
# only on an empty one). wal_level=replica and max_wal_senders=10 are PostgreSQL 16's defaults.
#   - the role REPLICATION_USER (REPLICATION LOGIN, password REPLICATION_PASSWORD)
#   - the physical replication slot REPLICATION_SLOT (the primary keeps WAL the replica has not
#     received yet, so a replica that was down catches up instead of needing a new base backup)
#   - a pg_hba.conf line for replication connections (the image's `host all all all ...` line does
#     not cover them), then a reload
# Runs in the postgres:16 image with the primary's volume at /primary-data and PGHOST, PGUSER,
# PGPASSWORD, PGDATABASE naming the primary's superuser.
set -euo pipefail
: "${REPLICATION_USER:=replicator}" "${REPLICATION_PASSWORD:?}" "${REPLICATION_SLOT:=replica_1}"
hba=${PRIMARY_DATA:-/primary-data}/pg_hba.conf

until pg_isready -q; do echo "waiting for the primary at $PGHOST"; sleep 1; done
psql -v ON_ERROR_STOP=1 -v user="$REPLICATION_USER" -v pw="$REPLICATION_PASSWORD" -v slot="$REPLICATION_SLOT" <<'SQL'
SELECT format('CREATE ROLE %I WITH REPLICATION LOGIN PASSWORD %L', :'user', :'pw')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I WITH REPLICATION LOGIN PASSWORD %L', :'user', :'pw') \gexec
SELECT pg_create_physical_replication_slot(:'slot')
WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot');
SQL
[ -f "$hba" ] || { echo "no $hba: is the primary's volume mounted at ${PRIMARY_DATA:-/primary-data}?" >&2; exit 1; }
line="host replication $REPLICATION_USER all scram-sha-256"
if ! grep -qxF "$line" "$hba"; then
  echo "$line" >>"$hba"
  echo "added to pg_hba.conf: $line"
fi
psql -v ON_ERROR_STOP=1 -Atc "SELECT pg_reload_conf()" >/dev/null
echo "primary ready for replication: role $REPLICATION_USER, slot $REPLICATION_SLOT"
