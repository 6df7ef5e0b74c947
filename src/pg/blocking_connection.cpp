#include "mlops_ingest/pg/blocking_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/pg/connect_timeout.hpp"

namespace mlops_ingest::pg {

namespace {

// Every DSN is remembered by the redactor before libpq sees it (and perhaps echoes it in an error).
const std::string& remembered(const std::string& dsn) {
  redact::remember_dsn_secrets(dsn);
  return dsn;
}

}  // namespace

namespace {

[[noreturn]] void connect_failed(const std::string& what) { throw PgError("connecting to PostgreSQL: " + what, ""); }

// How long one poll() may sleep: until the deadline, and in short ticks while a stop flag is to
// be watched. -1: forever.
int poll_wait_ms(std::chrono::milliseconds left, bool has_limit, bool watch_stop) {
  constexpr std::chrono::milliseconds kTick{100};
  if (!has_limit) return watch_stop ? static_cast<int>(kTick.count()) : -1;
  return static_cast<int>(std::clamp(watch_stop ? std::min(left, kTick) : left, std::chrono::milliseconds(0),
                                     std::chrono::milliseconds(kTick.count() * 600)).count());
}

// PQconnectStart/PQconnectPoll rather than PQconnectdb: the same connection, but with a limit
// that also holds for what libpq's connect_timeout leaves out, and a stop flag honoured within
// a tick.
PgConnHandle connect_within(const std::string& dsn, const ConnectLimits& limits) {
  const char* const keywords[] = {"dbname", nullptr};
  const char* const values[] = {dsn.c_str(), nullptr};
  PgConnHandle conn(PQconnectStartParams(keywords, values, /*expand_dbname=*/1));
  if (!conn) connect_failed("out of memory");
  if (PQstatus(conn.get()) == CONNECTION_BAD) connect_failed(libpq_message(PQerrorMessage(conn.get())));
  using Clock = std::chrono::steady_clock;
  const std::chrono::milliseconds limit = resolve_connect_timeout(dsn, default_connect_timeout());
  const auto deadline = Clock::now() + limit;
  PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) connect_failed(libpq_message(PQerrorMessage(conn.get())));
    if (limits.stop != nullptr && limits.stop->load()) connect_failed("stopped before the connection was made");
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (limit.count() > 0 && left.count() <= 0) {
      // libpq's own words for it, which is_connect_outage knows: an outage, retried.
      connect_failed("timeout expired after " + std::to_string(limit.count()) + " ms");
    }
    pollfd pfd{PQsocket(conn.get()), static_cast<short>(poll == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    const int rc = ::poll(&pfd, 1, poll_wait_ms(left, limit.count() > 0, limits.stop != nullptr));
    if (rc < 0 && errno != EINTR) connect_failed(std::string("poll: ") + std::strerror(errno));
    if (rc > 0) poll = PQconnectPoll(conn.get());
  }
  return conn;
}

}  // namespace

BlockingConnection::BlockingConnection(const std::string& dsn, ConnectLimits limits)
    : conn_(connect_within(remembered(dsn), limits)) {}

PgResult BlockingConnection::exec(const std::string& sql) { return checked(PQexec(conn_.get(), sql.c_str())); }

PgResult BlockingConnection::exec_params(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  return checked(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                              nullptr, nullptr, 0));
}

PgResult BlockingConnection::checked(PGresult* raw) {
  PgResult result(raw);
  if (!result) throw PgError(PQerrorMessage(conn_.get()), "");
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR) throw result_error(result.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) throw PgError(PQerrorMessage(conn_.get()), "");
  return result;
}

namespace {

std::string first_value(const PgResult& result) {
  if (PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0) return {};
  return PQgetvalue(result.get(), 0, 0);
}

}  // namespace

std::string BlockingConnection::query_value(const std::string& sql) { return first_value(exec(sql)); }

std::string BlockingConnection::query_value(const std::string& sql, const std::vector<std::string>& params) {
  return first_value(exec_params(sql, params));
}

std::string BlockingConnection::escape_literal(std::string_view text) const {
  return pg::escape_literal(conn_.get(), text);
}

std::string BlockingConnection::escape_identifier(std::string_view name) const {
  return pg::escape_identifier(conn_.get(), name);
}

}  // namespace mlops_ingest::pg
