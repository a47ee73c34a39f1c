#!/bin/sh
# docker-compose.yml, profile `cluster`: joins redis-node-1..3 into one Redis Cluster of three
# masters without replicas (one-shot). Does nothing if the cluster is already formed. CLUSTER
# MEET takes IP addresses, so the node names are resolved here; the nodes announce their names
# (cluster-announce-hostname), which is what clients are redirected to.
set -eu
NODES=${REDIS_CLUSTER_HOSTS:-redis-node-1 redis-node-2 redis-node-3}
PORT=${REDIS_CLUSTER_PORT:-6379}
first=${NODES%% *}

state() { redis-cli -h "$first" -p "$PORT" cluster info | sed -n 's/^cluster_state:\([a-z]*\).*/\1/p'; }
if [ "$(state)" = ok ]; then
  echo "Redis Cluster already formed"
  exit 0
fi
addrs=
for h in $NODES; do
  ip=$(getent hosts "$h" | awk '{ print $1; exit }')
  [ -n "$ip" ] || { echo "cannot resolve $h" >&2; exit 1; }
  addrs="$addrs $ip:$PORT"
done
# shellcheck disable=SC2086 # one word per node
redis-cli --cluster create $addrs --cluster-replicas 0 --cluster-yes
i=0
until [ "$(state)" = ok ]; do
  i=$((i + 1))
  [ "$i" -le 60 ] || { echo "cluster_state is not ok after 60 s" >&2; exit 1; }
  sleep 1
done
echo "Redis Cluster formed: cluster_state:ok"
