#include "postgres_probe.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

#include "pending_labels.hpp"

namespace mlops_ingest::observe {

namespace asio = boost::asio;

namespace {

// label_pending is small in the steady state (labels wait for predictions that are about to
// land); a backfill can fill it, and counting it every few seconds stays cheap even then.
// The statement_timeout bounds it server-side too. SET LOCAL in the same query string (one
// implicit transaction): a session SET would outlive it on a pooler's server connection and cut
// other clients' statements (a writer's batch) short.
const std::string& probe_sql() {
  static const std::string sql = std::string("SET LOCAL statement_timeout = '5s'; ") + kPendingLabelsSql;
  return sql;
}

}  // namespace

PostgresProbe::PostgresProbe(asio::io_context& io, const std::string& dsn, std::chrono::milliseconds interval,
                             std::chrono::milliseconds timeout)
    : io_(io), conn_(io, dsn, timeout, "mlops-ingest-probe"), interval_(interval), timer_(io) {}

void PostgresProbe::start() { asio::co_spawn(io_, loop(), asio::detached); }

void PostgresProbe::stop() {
  stopping_ = true;
  timer_.cancel();
  conn_.cancel();
}

asio::awaitable<void> PostgresProbe::loop() {
  while (!stopping_) {
    co_await probe_once();
    if (stopping_) break;
    timer_.expires_after(interval_);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  conn_.close();
}

asio::awaitable<void> PostgresProbe::probe_once() {
  try {
    // Its application_name (a startup parameter) is one an operator recognises in pg_stat_activity.
    if (!conn_.connected()) co_await conn_.connect();
    std::vector<pg::PgResult> r = co_await conn_.exec(probe_sql());
    const PendingLabels pending = parse_pending_labels(r.back().get());
    status_.reachable = true;
    status_.labels_pending = pending.count;
    status_.oldest_pending_label_seconds = pending.oldest_seconds.value_or(0);
    status_.error.clear();
  } catch (const pg::PgError& e) {
    // A statement error on a live connection (no label_pending table yet, no permission) still
    // means PostgreSQL is reachable; only the pending figures are unknown.
    status_.reachable = !e.sqlstate().empty() && conn_.connected();
    status_.labels_pending.reset();
    status_.oldest_pending_label_seconds.reset();
    status_.error = e.what();
    if (!status_.reachable) conn_.close();
  }
  status_.checked = true;
}

}  // namespace mlops_ingest::observe
