#include "startup_gate.hpp"

#include <optional>
#include <thread>

#include "../pg/retry_backoff.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"
#include "mlops_ingest/pg/roles.hpp"
#include "mlops_ingest/pg/schema_drift.hpp"
#include "mlops_ingest/pg/startup_check.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest {

StartupGate::StartupGate(const Config& config, const std::atomic<bool>& stop) : config_(config), stop_(stop) {}

std::string StartupGate::waiting_reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

void StartupGate::set_reason(std::string reason) {
  std::lock_guard lock(mutex_);
  reason_ = std::move(reason);
}

bool StartupGate::attempt(std::string& outage) {
  // Every check on the first connection: each connection is a backend start for PostgreSQL
  // (and a TLS handshake when remote), paid by every instance of a fleet at every rollout.
  std::optional<pg::BlockingConnection> conn =
      pg::open_startup_connection(config_.pg, pg::ConnectLimits{&stop_}, &outage);
  if (!conn) return false;
  try {
    if (config_.apply_schema) pg::apply_schema(*conn);
    pg::check_ingest_privileges(*conn, pg::needed_ingest_grants(config_));
    pg::check_schema_drift(*conn, pg::written_tables(&config_));
  } catch (const pg::PgError& e) {
    // Behind PgBouncer the first connection succeeds while PostgreSQL itself is down; the outage
    // shows at the first query.
    if (!pg::is_connect_outage(e.what())) throw;
    outage = e.what();
    log_warn("PostgreSQL is unreachable at startup (behind a pooler?): " + redact::scrub(outage) +
             ". Retrying; /readyz says why meanwhile");
    return false;
  }
  passed_on_ = std::make_unique<pg::BlockingConnection>(std::move(*conn));
  return true;
}

bool StartupGate::pass() {
  RetryBackoff backoff(config_.retry_backoff_initial, config_.retry_backoff_max,
                       static_cast<std::uint64_t>(monotonic_ns()));
  for (int attempts = 1;; ++attempts) {
    std::string outage;
    try {
      if (attempt(outage)) {
        set_reason({});
        return true;
      }
    } catch (const pg::PgError&) {
      if (stop_.load()) return false;  // the attempt was abandoned for the stop, not failed
      throw;
    }
    if (stop_.load()) return false;
    const auto wait = backoff.next();
    const std::string failed = "startup: waiting for PostgreSQL, " + std::to_string(attempts) +
                               " attempt(s) failed, the last with: " + redact::scrub(outage) + "; ";
    set_reason(failed + "next attempt in " + std::to_string(wait.count()) + " ms");
    const auto until = std::chrono::steady_clock::now() + wait;
    while (!stop_.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (stop_.load()) return false;
    set_reason(failed + "attempt " + std::to_string(attempts + 1) + " under way");
  }
}

}  // namespace mlops_ingest
