#pragma once
// The endpoint's own view of PostgreSQL: every `interval` it asks for the pending labels on its
// own connection (non-blocking libpq on the endpoint's io_context, so a frozen server never
// blocks a scrape or a health check) and keeps the answer for /metrics and /readyz.
// Private to src/observe/.
//
// Thread model: start(), stop() and status() on the io_context's thread only.
#include <chrono>
#include <string>

#include "mlops_ingest/observe/postgres_status.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"

namespace mlops_ingest::observe {

class PostgresProbe {
 public:
  PostgresProbe(boost::asio::io_context& io, const std::string& dsn, std::chrono::milliseconds interval,
                std::chrono::milliseconds timeout);
  PostgresProbe(const PostgresProbe&) = delete;
  PostgresProbe& operator=(const PostgresProbe&) = delete;

  void start();
  void stop();  // ends the loop; the connection closes
  [[nodiscard]] const PostgresStatus& status() const noexcept { return status_; }

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<void> probe_once();

  boost::asio::io_context& io_;
  pg::PgConnection conn_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  PostgresStatus status_;
  bool stopping_ = false;
};

}  // namespace mlops_ingest::observe
