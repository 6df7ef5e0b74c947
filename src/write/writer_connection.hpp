#pragma once
// A writer's PostgreSQL connection and its outage state: connecting (and counting reconnects),
// entering and leaving an outage (pg_retries, writers_waiting_for_pg, the log lines), the retry
// backoff, and the watch that gives up a request PostgreSQL does not answer once the writer
// must abort.
//
// Thread model: owned by one writer session and used on its io_context only.
#include <chrono>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/handoff/ring_signal.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/stats/stats.hpp"
#include "../pg/retry_backoff.hpp"
#include "writer_control.hpp"

namespace mlops_ingest {

class WriterConnection {
 public:
  // `signal`: the writer's RingSignal, woken when the writer must abort so that it stops waiting
  // for rows.
  WriterConnection(boost::asio::io_context& io, const Config& config, int writer_id, IngestStats& stats,
                   WriterControl control, RingSignal& signal);

  [[nodiscard]] pg::PgConnection& pg() noexcept { return conn_; }
  [[nodiscard]] bool should_abort() const noexcept { return control_.should_abort(); }
  [[nodiscard]] Heartbeat& heartbeat() noexcept { return heartbeat_; }
  [[nodiscard]] int id() const noexcept { return id_; }

  // Connects unless connected; a connection after the first counts as a reconnect.
  boost::asio::awaitable<void> ensure_connected();
  // An attempt failed with `e` (an outage, or a refusal an operator must fix): counted, logged,
  // and the connection closed; the writer waits for PostgreSQL until leave_outage().
  void enter_outage(const pg::PgError& e);
  // An attempt failed because a table changed under the ingester (table_outage.hpp, which logs
  // it): counted as a retry; PostgreSQL itself is reachable, so the writer does not count as
  // waiting for it, and the connection, rolled back, is kept.
  void enter_table_outage();
  // An attempt succeeded: the next outage backs off from the start again.
  void leave_outage();
  // The wait before the next attempt, cut short once the writer must abort.
  boost::asio::awaitable<void> back_off();

  // Past the shutdown deadline (or on abort()), a request PostgreSQL does not answer — a frozen
  // or unreachable server — is given up at once rather than after pg_io_timeout_ms, so that
  // shutdown_timeout_ms holds whatever PostgreSQL does. Giving up loses nothing: the batch's
  // offsets are not stored either, and it is consumed again after a restart. Runs until
  // stop_watching().
  boost::asio::awaitable<void> abort_watch();
  void stop_watching() noexcept { watching_ = false; }

 private:
  boost::asio::awaitable<void> sleep_for(std::chrono::nanoseconds d);

  boost::asio::io_context& io_;
  const int id_;
  IngestStats& stats_;
  Heartbeat& heartbeat_;
  WriterControl control_;
  RingSignal& signal_;
  pg::PgConnection conn_;
  RetryBackoff backoff_;
  bool ever_connected_ = false;
  bool waiting_for_pg_ = false;
  bool watching_ = true;
};

}  // namespace mlops_ingest
