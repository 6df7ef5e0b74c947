#pragma once
// The decisions behind /healthz and /readyz, as pure functions of the shared stats so that they
// are unit-tested without a server (tests/unit/health_test.cpp).
//
// Liveness (/healthz): is every thread making progress? A thread is stuck when its heartbeat
// (IngestStats::consumer_heartbeat, writer_heartbeats) is older than the stall limit, or a
// writer has failed. A heartbeat that never beat is "not reported" and does not fail the check:
// the thread has not started yet, or its loop does not record heartbeats (docs/operations.md).
// Outages are not failures: a writer retrying against an unreachable PostgreSQL still beats, and
// restarting the process would not bring PostgreSQL back.
//
// Readiness (/readyz): does this instance do its job right now? Partitions assigned (when the
// consumer reports them) and PostgreSQL reachable, both by the endpoint's own probe and by every
// writer (none waiting for PostgreSQL), and not shutting down.
#include <chrono>
#include <cstdint>
#include <string>

#include "mlops_ingest/observe/postgres_status.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest::observe {

struct Verdict {
  bool ok = true;
  std::string body;  // first line "ok" or what failed, then one line per check
};

struct LivenessInput {
  std::int64_t now_ns = 0;  // monotonic_ns()
  std::chrono::nanoseconds stall_limit{};
  int writers = 0;
  int failed_writers = 0;  // BatchWriter::failed()
  bool stopping = false;   // draining after SIGTERM: alive, even though the loops wind down
};

struct ReadinessInput {
  bool stopping = false;
  std::string starting;  // what startup still waits for ("" once it is done)
  PostgresStatus postgres;
};

// How long a thread may go without a heartbeat before it counts as stuck: well above the
// longest legitimate wait, a PostgreSQL request that makes no progress for pg_io_timeout.
std::chrono::nanoseconds stall_limit(std::chrono::milliseconds pg_io_timeout);

Verdict check_liveness(const IngestStats& stats, const LivenessInput& in);
Verdict check_readiness(const IngestStats& stats, const ReadinessInput& in);

}  // namespace mlops_ingest::observe
