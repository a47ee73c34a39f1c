#!/bin/bash
# docker-compose.yml, profile `cluster`: the streaming replica (postgres:16 image, run as the
# postgres user). An empty PGDATA is filled with a base backup of the primary (pg_basebackup -R
# writes primary_conninfo and standby.signal, -X stream copies the WAL written meanwhile), through
# the slot that primary-replication.sh created; then PostgreSQL starts as a hot standby. A PGDATA
# that already holds a cluster is started as it is (it resumes streaming from the slot).
set -euo pipefail
: "${PGDATA:?}" "${PRIMARY_HOST:=postgres}" "${PRIMARY_PORT:=5432}"
: "${REPLICATION_USER:=replicator}" "${REPLICATION_SLOT:=replica_1}" "${PGPASSWORD:?}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do echo "waiting for $PRIMARY_HOST"; sleep 1; done
  # A base backup needs an empty directory (a previous attempt may have stopped half-way).
  find "$PGDATA" -mindepth 1 -delete
  pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$REPLICATION_USER" -D "$PGDATA" \
    -R -X stream -S "$REPLICATION_SLOT" --checkpoint=fast
  echo "base backup of $PRIMARY_HOST taken"
fi
chmod 0700 "$PGDATA"
exec postgres -c hot_standby=on
