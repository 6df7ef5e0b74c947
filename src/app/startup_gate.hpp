#pragma once
// What `run` and `replay` check before they consume, all on one connection: the connection
// itself (a wrong CA, host name or password stops startup), the schema (apply_schema), the
// role's privileges and the tables' columns and keys (pg/schema_drift.hpp: a table changed
// under it stops startup). A database that is down, slow or out of reach at start is an outage
// like any later one: the checks are tried again with the retry backoff while the HTTP endpoint
// is already up, /healthz answering 200 (the process is alive) and /readyz 503 with the reason
// (waiting_reason()).
//
// Thread model: pass() runs on the ingester's thread; waiting_reason() may be called from any
// thread (the endpoint's).
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest {

class StartupGate {
 public:
  StartupGate(const Config& config, const std::atomic<bool>& stop);

  // Returns true once every check passed, false if `stop` became true first (within about
  // 100 ms, even in the middle of a connection attempt). Throws PgError for a failure that is
  // not an outage (authentication, TLS, a missing table or privilege), pg::SchemaDriftError
  // when a table differs from what mlops-ingest writes (retrying cannot fix either).
  bool pass();

  // "" once passed; otherwise what startup waits for, with the attempt count.
  [[nodiscard]] std::string waiting_reason() const;

  // The connection the checks passed on, once: the group's lease carries on with it, so that a
  // start costs PostgreSQL one backend fewer. Null unless pass() returned true.
  std::unique_ptr<pg::BlockingConnection> take_connection() { return std::move(passed_on_); }

 private:
  bool attempt(std::string& outage);  // false: an outage, described in `outage`
  void set_reason(std::string reason);

  const Config& config_;
  const std::atomic<bool>& stop_;
  std::unique_ptr<pg::BlockingConnection> passed_on_;
  mutable std::mutex mutex_;
  std::string reason_ = "startup: connecting to PostgreSQL (attempt 1)";
};

}  // namespace mlops_ingest
