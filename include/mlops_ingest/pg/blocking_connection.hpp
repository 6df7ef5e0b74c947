#pragma once
// A plain blocking libpq connection for the rare paths that run outside the writers' event
// loops: applying the schema, reading stored offsets on a partition assignment, tools, tests.
#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "mlops_ingest/pg/connect_timeout.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"

namespace mlops_ingest::pg {

// What bounds the connect: the DSN's connect_timeout, else default_connect_timeout()
// (resolve_connect_timeout); and `stop`, when given, abandons the attempt within 100 ms of
// becoming true. Past either the constructor throws PgError (a timeout says "timeout expired":
// an outage).
struct ConnectLimits {
  const std::atomic<bool>* stop = nullptr;
};

class BlockingConnection {
 public:
  explicit BlockingConnection(const std::string& dsn, ConnectLimits limits = {});  // throws PgError
  PgResult exec(const std::string& sql);                // throws PgError; last result
  // One statement with text parameters ($1, $2, ...); throws PgError.
  PgResult exec_params(const std::string& sql, const std::vector<std::string>& params);
  // First column of the first row as text ("" when there is no row).
  std::string query_value(const std::string& sql);
  // The same for one statement with text parameters: values never become SQL text.
  std::string query_value(const std::string& sql, const std::vector<std::string>& params);
  [[nodiscard]] std::string escape_literal(std::string_view text) const;
  [[nodiscard]] std::string escape_identifier(std::string_view name) const;  // "quoted" as needed
  [[nodiscard]] PGconn* raw() const noexcept { return conn_.get(); }

 private:
  PgResult checked(PGresult* raw);  // throws PgError for a failed command or a lost connection
  PgConnHandle conn_;
};

// Applies schema/*.sql (embedded at build time) idempotently under an advisory lock, so many
// instances starting at once are fine, and so is a database that already has the seed's tables.
void apply_schema(const std::string& dsn);
// The same on an open connection (outside a transaction; it commits its own).
void apply_schema(BlockingConnection& conn);

}  // namespace mlops_ingest::pg
