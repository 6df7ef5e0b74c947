#pragma once
// A libpq connection driven without blocking by a Boost.Asio io_context, as C++20 coroutines.
//
// Thread model: "a connection is a world of its own" (libpqxx): a PgConnection and its
// io_context belong to one thread; nothing here is shared.
#include <libpq-fe.h>

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/pg/pg_error.hpp"

namespace mlops_ingest::pg {

struct PgResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct PgConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using PgConnHandle = std::unique_ptr<PGconn, PgConnDeleter>;

// Rows affected by a command result ("INSERT 0 42" → 42).
std::uint64_t affected_rows(const PGresult* result) noexcept;

// A libpq message without the newline (and spaces) libpq ends it with, for one-line errors.
std::string libpq_message(const char* text);
// The error a failed result carries: its message and SQLSTATE.
PgError result_error(const PGresult* result);

// `text` as an SQL literal ('quoted'), or `name` as an identifier ("quoted" as needed), escaped
// for the connection's encoding; throw PgError.
std::string escape_literal(PGconn* conn, std::string_view text);
std::string escape_identifier(PGconn* conn, std::string_view name);

class PgConnection {
 public:
  template <typename T>
  using awaitable = boost::asio::awaitable<T>;

  // io_timeout: how long the server may make no progress on a request before the connection is
  // declared lost (a frozen or partitioned server); the caller then reconnects and retries.
  // application_name: sent as a startup parameter (fallback_application_name: one in the DSN wins).
  PgConnection(boost::asio::io_context& io, std::string dsn, std::chrono::milliseconds io_timeout,
               std::string application_name = "mlops-ingest");
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  [[nodiscard]] bool connected() const noexcept;
  // One attempt, within the connect timeout (resolve_connect_timeout: the DSN's connect_timeout,
  // else default_connect_timeout()); past it, a PgError outage saying "timeout expired".
  awaitable<void> connect();
  void close() noexcept;
  // Makes a wait on the server in progress fail now, as an outage (the connection is closed),
  // instead of after io_timeout: for giving up on a request at a shutdown deadline.
  void cancel() noexcept;

  // Runs one simple-protocol query string (it may hold several statements) and returns every
  // result. Throws PgError for the first failed statement, after draining the rest.
  awaitable<std::vector<PgResult>> exec(const std::string& sql);

  // Runs one statement with text parameters ($1, $2, ...) through the extended protocol.
  awaitable<std::vector<PgResult>> exec_params(const std::string& sql, const std::vector<std::string>& params);

  // Runs one statement with binary parameters (typed by their OIDs) through the extended
  // protocol's unnamed statement: nothing outlives the call, so it is safe behind a
  // transaction-pooling PgBouncer. Results come back in text format.
  awaitable<std::vector<PgResult>> exec_binary(const std::string& sql, const std::vector<BinaryParam>& params);

  // Runs `copy_sql` (a COPY ... FROM STDIN) and streams `chunks` as its data.
  // Returns the number of rows the server copied.
  awaitable<std::uint64_t> copy_in(const std::string& copy_sql,
                                   const std::vector<std::string_view>& chunks);

  // copy_in in two halves, so that the COPY can start in the round trip of the statements
  // before it: start_copy runs a simple-protocol string whose last statement is a COPY ... FROM
  // STDIN and returns the results of the statements before it, the server then waiting for the
  // data (throws PgError, after draining, when a statement fails first); finish_copy streams
  // `chunks`, ends the COPY and returns the rows copied. Nothing else may be sent in between.
  awaitable<std::vector<PgResult>> start_copy(const std::string& sql);
  awaitable<std::uint64_t> finish_copy(const std::vector<std::string_view>& chunks);

  [[nodiscard]] std::string escape_literal(std::string_view text) const;
  [[nodiscard]] PGconn* raw() const noexcept { return conn_.get(); }

 private:
  enum class Wait { kRead, kWrite };
  awaitable<void> wait_socket(Wait what);
  awaitable<bool> wait_socket_for(Wait what, std::chrono::milliseconds limit);  // false: timed out
  awaitable<void> flush();
  awaitable<PgResult> next_result();  // nullptr when the command is complete
  awaitable<std::vector<PgResult>> drain_results(std::vector<PgResult> results);
  void attach_socket();
  void close_socket() noexcept;
  [[noreturn]] void throw_connection_error(std::string_view what);

  boost::asio::io_context& io_;
  std::string dsn_;
  std::string application_name_;
  std::chrono::milliseconds io_timeout_;
  PgConnHandle conn_;
  // A duplicate of libpq's socket, owned here (see attach_socket), and which socket it is.
  std::optional<boost::asio::posix::stream_descriptor> socket_;
  struct SocketId {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    bool operator==(const SocketId&) const = default;
  };
  SocketId socket_id_;
  boost::asio::steady_timer timer_;
};

}  // namespace mlops_ingest::pg
