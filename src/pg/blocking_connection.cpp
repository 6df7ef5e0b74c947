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
    std::string message = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw PgError("connecting to PostgreSQL: " + message, "");
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
  if (status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR) {
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    std::string message = PQresultErrorMessage(result.get());
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw PgError(std::move(message), state != nullptr ? state : "");
  }
  if (PQstatus(conn_.get()) != CONNECTION_OK) throw PgError(PQerrorMessage(conn_.get()), "");
  return result;
}

std::string BlockingConnection::query_value(const std::string& sql) {
  PgResult result = exec(sql);
  if (PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0) return {};
  return PQgetvalue(result.get(), 0, 0);
}

std::string BlockingConnection::query_value(const std::string& sql, const std::vector<std::string>& params) {
  PgResult result = exec_params(sql, params);
  if (PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0) return {};
  return PQgetvalue(result.get(), 0, 0);
}

std::string BlockingConnection::escape_literal(std::string_view text) const {
  char* escaped = PQescapeLiteral(conn_.get(), text.data(), text.size());
  if (escaped == nullptr) throw PgError("PQescapeLiteral failed", "");
  std::string out(escaped);
  PQfreemem(escaped);
  return out;
}

std::string BlockingConnection::escape_identifier(std::string_view name) const {
  char* escaped = PQescapeIdentifier(conn_.get(), name.data(), name.size());
  if (escaped == nullptr) throw PgError("PQescapeIdentifier failed", "");
  std::string out(escaped);
  PQfreemem(escaped);
  return out;
}

}  // namespace mlops_ingest::pg
