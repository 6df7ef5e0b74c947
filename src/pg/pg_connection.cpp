#include "mlops_ingest/pg/pg_connection.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>

#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/pg/connect_timeout.hpp"

namespace mlops_ingest::pg {

namespace asio = boost::asio;
using asio::use_awaitable;

std::uint64_t affected_rows(const PGresult* result) noexcept {
  const char* text = PQcmdTuples(const_cast<PGresult*>(result));
  std::uint64_t n = 0;
  if (text != nullptr) std::from_chars(text, text + std::char_traits<char>::length(text), n);
  return n;
}

std::string libpq_message(const char* text) {
  std::string message = text != nullptr ? text : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

PgError result_error(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return PgError(libpq_message(PQresultErrorMessage(result)), state != nullptr ? state : "");
}

namespace {

// PQescapeLiteral's or PQescapeIdentifier's result, which libpq allocated, as a std::string.
std::string take_escaped(char* escaped, const char* what) {
  if (escaped == nullptr) throw PgError(std::string(what) + " failed", "");
  std::string out(escaped);
  PQfreemem(escaped);
  return out;
}

}  // namespace

std::string escape_literal(PGconn* conn, std::string_view text) {
  return take_escaped(PQescapeLiteral(conn, text.data(), text.size()), "PQescapeLiteral");
}

std::string escape_identifier(PGconn* conn, std::string_view name) {
  return take_escaped(PQescapeIdentifier(conn, name.data(), name.size()), "PQescapeIdentifier");
}

PgConnection::PgConnection(asio::io_context& io, std::string dsn,
                           std::chrono::milliseconds io_timeout, std::string application_name)
    : io_(io), dsn_(std::move(dsn)), application_name_(std::move(application_name)), io_timeout_(io_timeout),
      timer_(io) {
  redact::remember_dsn_secrets(dsn_);  // before libpq sees it, and perhaps echoes it in an error
}


PgConnection::~PgConnection() { close(); }

bool PgConnection::connected() const noexcept {
  return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

void PgConnection::close() noexcept {
  close_socket();  // before libpq closes its own descriptor
  conn_.reset();
}

void PgConnection::close_socket() noexcept {
  if (socket_) {
    boost::system::error_code ignored;
    socket_->close(ignored);  // our duplicate (see attach_socket): deregistered, then closed
    socket_.reset();
  }
  socket_id_ = {};
}

void PgConnection::cancel() noexcept {
  boost::system::error_code ignored;
  if (socket_) socket_->cancel(ignored);
}

// Boost.Asio watches a duplicate of libpq's socket, never libpq's own descriptor. libpq closes
// its socket by itself (a lost connection, a connection attempt it retries), and a new socket —
// this writer's next attempt, or another writer's, or any descriptor another thread opens — can
// get the same number at once. Watching the number, asio would keep an epoll registration the
// kernel had already dropped (a wait that only ends at io_timeout) and, on release, deregister a
// number that now belongs to someone else (another writer's socket, say). The
// duplicate is ours alone: it is deregistered and closed here, and the socket's identity (device
// and inode) tells a new socket from the old one under the same number.
void PgConnection::attach_socket() {
  const int fd = PQsocket(conn_.get());
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) throw_connection_error("PostgreSQL connection has no socket");
  const SocketId id{st.st_dev, st.st_ino};
  if (socket_ && id == socket_id_) return;
  close_socket();
  const int ours = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (ours < 0) {
    const int err = errno;
    throw_connection_error(std::string("cannot duplicate the PostgreSQL socket: ") + std::strerror(err));
  }
  socket_.emplace(io_, ours);
  socket_id_ = id;
}

void PgConnection::throw_connection_error(std::string_view what) {
  std::string message(what);
  if (conn_) {
    const char* detail = PQerrorMessage(conn_.get());
    if (detail != nullptr && *detail != '\0') message += ": " + libpq_message(detail);
  }
  close();
  throw PgError(std::move(message), "");  // no SQLSTATE: an outage
}

asio::awaitable<bool> PgConnection::wait_socket_for(Wait what, std::chrono::milliseconds limit) {
  // A deadline that cancels the wait turns a frozen or unreachable server into an error the
  // caller retries, instead of a thread parked forever.
  bool timed_out = false;
  timer_.expires_after(limit);
  timer_.async_wait([this, &timed_out](const boost::system::error_code& ec) {
    if (!ec && socket_) {
      timed_out = true;
      socket_->cancel();
    }
  });
  boost::system::error_code ec;
  co_await socket_->async_wait(what == Wait::kRead ? asio::posix::stream_descriptor::wait_read
                                                   : asio::posix::stream_descriptor::wait_write,
                               asio::redirect_error(use_awaitable, ec));
  timer_.cancel();
  if (timed_out) co_return false;
  if (ec) throw_connection_error("waiting on the PostgreSQL socket failed: " + ec.message());
  co_return true;
}

asio::awaitable<void> PgConnection::wait_socket(Wait what) {
  // The result in a variable first: GCC 12 miscompiles a co_await inside a condition.
  const bool progressed = co_await wait_socket_for(what, io_timeout_);
  if (!progressed) {
    throw_connection_error("PostgreSQL made no progress for " + std::to_string(io_timeout_.count()) + " ms");
  }
}

asio::awaitable<void> PgConnection::connect() {
  close();
  // application_name as a startup parameter rather than a SET: a pooler keeps it per client.
  const char* const keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* const values[] = {dsn_.c_str(), application_name_.c_str(), nullptr};
  conn_.reset(PQconnectStartParams(keywords, values, /*expand_dbname=*/1));
  if (!conn_) throw PgError("out of memory creating a PostgreSQL connection", "");
  if (PQstatus(conn_.get()) == CONNECTION_BAD) throw_connection_error("connecting to PostgreSQL");
  // libpq ignores connect_timeout in PQconnectPoll: the whole attempt (every host of a
  // multi-host DSN, TLS, authentication) is bounded here.
  using Clock = std::chrono::steady_clock;
  const std::chrono::milliseconds connect_timeout = resolve_connect_timeout(dsn_, default_connect_timeout());
  const auto deadline = Clock::now() + connect_timeout;
  PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) throw_connection_error("connecting to PostgreSQL");
    attach_socket();
    std::chrono::milliseconds limit = io_timeout_;
    if (connect_timeout.count() > 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      limit = std::clamp(left, std::chrono::milliseconds(1), io_timeout_);
    }
    const bool progressed = co_await wait_socket_for(poll == PGRES_POLLING_READING ? Wait::kRead : Wait::kWrite, limit);
    if (!progressed) {
      if (connect_timeout.count() > 0 && Clock::now() >= deadline) {
        // "timeout expired", as libpq words it: an outage (is_connect_outage), retried.
        throw_connection_error("connecting to PostgreSQL: timeout expired after " +
                               std::to_string(connect_timeout.count()) + " ms");
      }
      throw_connection_error("PostgreSQL made no progress for " + std::to_string(io_timeout_.count()) + " ms");
    }
    poll = PQconnectPoll(conn_.get());
  }
  attach_socket();
  if (PQsetnonblocking(conn_.get(), 1) != 0) throw_connection_error("PQsetnonblocking");
}

asio::awaitable<void> PgConnection::flush() {
  for (;;) {
    const int rc = PQflush(conn_.get());
    if (rc == 0) co_return;
    if (rc < 0) throw_connection_error("sending to PostgreSQL");
    co_await wait_socket(Wait::kWrite);
    // The server may have answered meanwhile (an error during COPY): read it so that both
    // sides never wait on each other's full buffers.
    if (PQconsumeInput(conn_.get()) == 0) throw_connection_error("reading from PostgreSQL");
  }
}

asio::awaitable<PgResult> PgConnection::next_result() {
  while (PQisBusy(conn_.get()) != 0) {
    co_await wait_socket(Wait::kRead);
    if (PQconsumeInput(conn_.get()) == 0) throw_connection_error("reading from PostgreSQL");
  }
  co_return PgResult(PQgetResult(conn_.get()));
}

asio::awaitable<std::vector<PgResult>> PgConnection::drain_results(std::vector<PgResult> results) {
  std::optional<PgError> first_error;
  for (;;) {
    PgResult result = co_await next_result();
    if (!result) break;
    const ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_FATAL_ERROR && !first_error) {
      first_error.emplace(result_error(result.get()));
    } else if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
      // Only copy_in() expects COPY; anywhere else it is a protocol misuse: drop the connection.
      throw_connection_error("unexpected COPY state");
    }
    results.push_back(std::move(result));
  }
  if (!connected()) throw_connection_error("PostgreSQL connection lost");
  if (first_error) throw *first_error;
  co_return results;
}

asio::awaitable<std::vector<PgResult>> PgConnection::exec(const std::string& sql) {
  if (!connected()) throw PgError("not connected to PostgreSQL", "");
  if (PQsendQuery(conn_.get(), sql.c_str()) == 0) throw_connection_error("sending a query");
  co_await flush();
  co_return co_await drain_results({});
}

asio::awaitable<std::vector<PgResult>> PgConnection::exec_params(const std::string& sql,
                                                                 const std::vector<std::string>& params) {
  if (!connected()) throw PgError("not connected to PostgreSQL", "");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  if (PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr,
                        nullptr, 0) == 0) {
    throw_connection_error("sending a query");
  }
  co_await flush();
  co_return co_await drain_results({});
}

asio::awaitable<std::vector<PgResult>> PgConnection::exec_binary(const std::string& sql,
                                                                 const std::vector<BinaryParam>& params) {
  if (!connected()) throw PgError("not connected to PostgreSQL", "");
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const BinaryParam& p : params) {
    types.push_back(p.type_oid);
    values.push_back(p.bytes.data());
    lengths.push_back(static_cast<int>(p.bytes.size()));
    formats.push_back(1);
  }
  if (PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), types.data(), values.data(),
                        lengths.data(), formats.data(), 0) == 0) {
    throw_connection_error("sending a query");
  }
  co_await flush();
  co_return co_await drain_results({});
}

asio::awaitable<std::uint64_t> PgConnection::copy_in(const std::string& copy_sql,
                                                     const std::vector<std::string_view>& chunks) {
  co_await start_copy(copy_sql);
  co_return co_await finish_copy(chunks);
}

asio::awaitable<std::vector<PgResult>> PgConnection::start_copy(const std::string& sql) {
  if (!connected()) throw PgError("not connected to PostgreSQL", "");
  if (PQsendQuery(conn_.get(), sql.c_str()) == 0) throw_connection_error("sending COPY");
  co_await flush();
  std::vector<PgResult> before;
  for (;;) {
    PgResult result = co_await next_result();
    if (!result) throw_connection_error("the query string ended without starting its COPY");
    const ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_COPY_IN) co_return before;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      before.push_back(std::move(result));
      continue;
    }
    // A statement failed (the COPY itself: a missing table...; or one before it), so the rest
    // of the string was skipped: collect the error and end the command.
    PgError error = result_error(result.get());
    co_await drain_results({});
    throw error;
  }
}

asio::awaitable<std::uint64_t> PgConnection::finish_copy(const std::vector<std::string_view>& chunks) {
  for (const std::string_view chunk : chunks) {
    for (;;) {
      const int rc = PQputCopyData(conn_.get(), chunk.data(), static_cast<int>(chunk.size()));
      if (rc == 1) break;
      if (rc < 0) throw_connection_error("sending COPY data");
      co_await wait_socket(Wait::kWrite);  // rc == 0: libpq's buffer is full
      if (PQflush(conn_.get()) < 0) throw_connection_error("sending COPY data");
    }
  }
  for (;;) {
    const int rc = PQputCopyEnd(conn_.get(), nullptr);
    if (rc == 1) break;
    if (rc < 0) throw_connection_error("ending COPY");
    co_await wait_socket(Wait::kWrite);
  }
  co_await flush();
  std::vector<PgResult> results = co_await drain_results({});
  co_return results.empty() ? 0 : affected_rows(results.back().get());
}

std::string PgConnection::escape_literal(std::string_view text) const { return pg::escape_literal(conn_.get(), text); }

}  // namespace mlops_ingest::pg
