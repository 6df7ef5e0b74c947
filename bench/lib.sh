# Shared by the bench scripts (sourced, not run): the embedded broker, and the PostgreSQL
# cluster's CPU as every script counts it.

# start_dev_broker BIN PARTITIONS WORK: starts `BIN dev-broker` with the predictions and labels
# topics in the background; sets BROKER_PID and BROKERS (its bootstrap address).
start_dev_broker() {
  "$1" dev-broker --partitions "$2" --topics predictions,labels >"$3/broker.out" 2>"$3/broker.log" &
  BROKER_PID=$!
  for _ in $(seq 100); do [ -s "$3/broker.out" ] && break; sleep 0.1; done
  BROKERS=$(head -n 1 "$3/broker.out")
}

# pg_cluster_cpu_ticks PGDIR: the CPU ticks the cluster in PGDIR (scripts/pg-throwaway.sh) has
# used so far: the postmaster's own and its reaped children's (utime stime cutime cstime, fields
# 14-17 of /proc/PID/stat), plus every live child's — backends, checkpointer, walwriter,
# autovacuum, including those that exit later.
pg_cluster_cpu_ticks() {
  local pm total t c
  pm=$(head -n 1 "$1/data/postmaster.pid")
  total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
  for c in $(pgrep -P "$pm"); do
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$c/stat" 2>/dev/null) && total=$((total + t))
  done
  echo "$total"
}
