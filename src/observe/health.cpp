#include "mlops_ingest/observe/health.hpp"

#include <algorithm>
#include <cstdio>

namespace mlops_ingest::observe {
namespace {

std::string seconds_text(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

// One heartbeat's line; returns false if the thread is stuck.
bool check_heartbeat(const std::string& name, const Heartbeat& heartbeat, const LivenessInput& in, std::string& lines) {
  const std::int64_t last = heartbeat.last_ns();
  if (last == 0) {
    lines += name + ": not reported (not started, or its loop records no heartbeat)\n";
    return true;
  }
  const std::int64_t age = std::max<std::int64_t>(0, in.now_ns - last);
  if (age > in.stall_limit.count()) {
    lines += name + ": STUCK, no heartbeat for " + seconds_text(age) + " (limit " +
             seconds_text(in.stall_limit.count()) + ")\n";
    return false;
  }
  lines += name + ": ok, last heartbeat " + seconds_text(age) + " ago\n";
  return true;
}

}  // namespace

std::chrono::nanoseconds stall_limit(std::chrono::milliseconds pg_io_timeout) {
  return std::max<std::chrono::nanoseconds>(std::chrono::seconds(60), 2 * pg_io_timeout);
}

Verdict check_liveness(const IngestStats& stats, const LivenessInput& in) {
  std::string lines;
  bool ok = check_heartbeat("consumer", stats.consumer_heartbeat, in, lines);
  const int writers = std::clamp(in.writers, 0, IngestStats::kMaxWriters);
  for (int i = 0; i < writers; ++i) {
    ok = check_heartbeat("writer " + std::to_string(i), stats.writer_heartbeats[static_cast<std::size_t>(i)], in,
                         lines) && ok;
  }
  if (in.failed_writers > 0) {
    lines += std::to_string(in.failed_writers) + " writer(s) FAILED (stopped on an unexpected error; see the log)\n";
    ok = false;
  }
  if (in.stopping) {
    // Draining after SIGTERM: the loops are meant to wind down; a restart now would only cut
    // the drain short.
    return {true, "ok: stopping\n" + lines};
  }
  return {ok, (ok ? "ok\n" : "stuck\n") + lines};
}

Verdict check_readiness(const IngestStats& stats, const ReadinessInput& in) {
  std::string lines;
  bool ok = true;
  if (in.stopping) {
    lines += "stopping: draining after a stop request\n";
    ok = false;
  }
  if (!in.starting.empty()) {
    lines += in.starting + "\n";
    ok = false;
  }
  const int assigned = stats.partitions_assigned.load();
  if (assigned < 0) {
    lines += "partitions: not reported by the consumer (not checked)\n";
  } else if (assigned == 0) {
    lines += "partitions: NONE assigned (joining the group, a rebalance, or more members than partitions)\n";
    ok = false;
  } else {
    lines += "partitions: " + std::to_string(assigned) + " assigned\n";
  }
  const PostgresStatus& pg = in.postgres;
  const int waiting = stats.writers_waiting_for_pg.load();
  if (!pg.checked) {
    lines += "postgres: not checked yet\n";
    ok = false;
  } else if (!pg.reachable) {
    lines += "postgres: UNREACHABLE (" + pg.error + ")\n";
    ok = false;
  } else if (waiting > 0) {
    lines += "postgres: reachable, but " + std::to_string(waiting) + " writer(s) are retrying a failed batch\n";
    ok = false;
  } else {
    lines += "postgres: reachable\n";
  }
  for (std::size_t i = 0; i < pg::kIngestGrants.size(); ++i) {
    const int writers = stats.writers_with_table_out[i].load();
    if (writers == 0) continue;
    lines += "table " + std::string(pg::kIngestGrants[i].table) + ": OUT, it changed under the ingester; " +
             std::to_string(writers) + " writer(s) retry their batch until it is fixed (see the log)\n";
    ok = false;
  }
  return {ok, (ok ? "ready\n" : "not ready\n") + lines};
}

}  // namespace mlops_ingest::observe
