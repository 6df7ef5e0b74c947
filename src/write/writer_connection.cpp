#include "writer_connection.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <random>
#include <string>

#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

WriterConnection::WriterConnection(asio::io_context& io, const Config& config, int writer_id, IngestStats& stats,
                                   WriterControl control, RingSignal& signal)
    : io_(io),
      id_(writer_id),
      stats_(stats),
      heartbeat_(stats.writer_heartbeats[static_cast<std::size_t>(writer_id)]),
      control_(control),
      signal_(signal),
      conn_(io, config.pg, config.pg_io_timeout),
      backoff_(config.retry_backoff_initial, config.retry_backoff_max,
               std::random_device{}() + static_cast<unsigned>(writer_id)) {}

awaitable<void> WriterConnection::ensure_connected() {
  if (conn_.connected()) co_return;
  co_await conn_.connect();
  if (ever_connected_) {
    ++stats_.pg_reconnects;
    log_info("writer " + std::to_string(id_) + ": reconnected to PostgreSQL", {{"writer", id_}});
  }
  ever_connected_ = true;
}

void WriterConnection::enter_outage(const pg::PgError& e) {
  ++stats_.pg_retries;
  if (!waiting_for_pg_) {
    waiting_for_pg_ = true;
    ++stats_.writers_waiting_for_pg;
  }
  const std::string detail = (e.sqlstate().empty() ? std::string() : "SQLSTATE " + e.sqlstate() + ": ") + e.what();
  if (e.is_retryable()) {
    log_warn("writer " + std::to_string(id_) + ": PostgreSQL unavailable, will retry (" + detail + ")",
             {{"writer", id_}, {"sqlstate", e.sqlstate()}});
  } else {
    // Not an outage and not one row's fault (the dead-letter COPY, the offsets UPDATE, a rule
    // on ingest_offsets...): the batch is kept and retried until an operator fixes the cause.
    log_error("writer " + std::to_string(id_) +
              ": PostgreSQL refused the batch transaction, retrying until this is fixed (" + detail + ")",
              {{"writer", id_}, {"sqlstate", e.sqlstate()}});
  }
  conn_.close();
}

void WriterConnection::enter_table_outage() {
  ++stats_.pg_retries;
  if (waiting_for_pg_) {
    waiting_for_pg_ = false;
    --stats_.writers_waiting_for_pg;
  }
}

void WriterConnection::leave_outage() {
  backoff_.reset();
  if (waiting_for_pg_) {
    waiting_for_pg_ = false;
    --stats_.writers_waiting_for_pg;
  }
}

awaitable<void> WriterConnection::sleep_for(std::chrono::nanoseconds d) {
  asio::steady_timer timer(io_);
  timer.expires_after(d);
  co_await timer.async_wait(asio::use_awaitable);
}

awaitable<void> WriterConnection::back_off() {
  heartbeat_.beat();
  const auto until = Clock::now() + std::chrono::nanoseconds(backoff_.next());
  while (!should_abort() && Clock::now() < until) {
    heartbeat_.beat();
    co_await sleep_for(std::min<std::chrono::nanoseconds>(until - Clock::now(), std::chrono::milliseconds(50)));
  }
}

awaitable<void> WriterConnection::abort_watch() {
  while (watching_) {
    // Finely once a stop is requested (its deadline is what this watches), coarsely before,
    // so that an idle writer does not wake twenty times a second for nothing.
    const bool stopping = control_.stopping() || control_.abort_requested.load();
    co_await sleep_for(stopping ? std::chrono::milliseconds(50) : std::chrono::milliseconds(500));
    if (should_abort()) {
      conn_.cancel();
      signal_.wake();
    }
  }
}

}  // namespace mlops_ingest
