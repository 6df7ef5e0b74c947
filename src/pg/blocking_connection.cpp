#include "mlops_ingest/pg/blocking_connection.hpp"

#include "mlops_ingest/log/redact.hpp"

namespace mlops_ingest::pg {

namespace {

// Every DSN is remembered by the redactor before libpq sees it (and perhaps echoes it in an error).
const std::string& remembered(const std::string& dsn) {
  redact::remember_dsn_secrets(dsn);
  return dsn;
}

}  // namespace

BlockingConnection::BlockingConnection(const std::string& dsn) : conn_(PQconnectdb(remembered(dsn).c_str())) {
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    throw PgError("connecting to PostgreSQL: " + (conn_ ? libpq_message(PQerrorMessage(conn_.get())) : "out of memory"),
                  "");
  }
}

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
