#include "mlops_ingest/pg/startup_check.hpp"

#include <array>
#include <optional>

#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::pg {
namespace {

struct Hint {
  std::string_view symptom;  // a piece of libpq's (English) message
  std::string_view advice;
};

// libpq has no error codes for connection failures, only text: match what it says. A hint is
// advice on top of libpq's message, which is always shown in full.
constexpr std::array<Hint, 12> kHints = {{
    {"certificate verify failed",
     "the server's certificate is not signed by a CA in sslrootcert: point sslrootcert at the CA that issued the "
     "server's certificate"},
    {"does not match host name",
     "the server's certificate does not name the host in the DSN: connect with host= set to a name in the "
     "certificate (hostaddr= may still give the IP address), or reissue the certificate with this name in its "
     "subjectAltName"},
    {"root certificate file",
     "sslmode=verify-ca/verify-full needs the CA certificate: set sslrootcert=/path/to/ca.crt"},
    {"has group or world access",
     "the client key file must be private: chmod 600 it (owned by the user running mlops-ingest)"},
    {"password authentication failed",
     "wrong password: give it through PGPASSFILE (a mode 600 file of host:port:dbname:user:password lines) or "
     "PGPASSWORD"},
    {"no password supplied",
     "the server asks for a password: give it through PGPASSFILE or PGPASSWORD, or use a client certificate"},
    {"certificate authentication failed",
     "the client certificate's CN must be the PostgreSQL user name (or be mapped to it in pg_ident.conf)"},
    {"requires a valid client certificate",
     "pg_hba.conf asks for a client certificate: set sslcert= and sslkey= in the DSN"},
    {"no pg_hba.conf entry",
     "pg_hba.conf has no line for this user, database, address and TLS/non-TLS combination: ask the DBA for a "
     "hostssl line"},
    {"server does not support SSL",
     "the server does not offer TLS: set ssl = on (with ssl_cert_file/ssl_key_file) in postgresql.conf"},
    {"does not exist",
     "create the role (`mlops-ingest schema roles`) or the database first, or fix the name in the DSN"},
    {"Connection refused", "is PostgreSQL running and listening there?"},
}};

// What an outage looks like at connect time (the server down, starting, full, or out of reach):
// retried like any outage, not a reason to stop. Everything else (TLS, authentication, pg_hba,
// a missing role or database) is a mistake that retrying would only hide.
// The last four are PgBouncer's words for the same outages behind it: PostgreSQL down
// ("client_login_timeout (server down)", "server login has been failing, try again later
// (server_login_retry)"), or PgBouncer itself full.
constexpr std::array<std::string_view, 14> kOutageSymptoms = {
    "Connection refused", "timeout expired", "could not translate host name", "No route to host",
    "Network is unreachable", "the database system is starting up", "the database system is shutting down",
    "too many clients", "server closed the connection unexpectedly", "the database system is in recovery mode",
    "(server down)", "server login has been failing", "no more connections allowed", "query_wait_timeout"};

std::string conninfo_value(PGconn* conn, std::string_view keyword) {
  std::string out;
  if (PQconninfoOption* options = PQconninfo(conn)) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (keyword == o->keyword && o->val != nullptr) out = o->val;
    }
    PQconninfoFree(options);
  }
  return out;
}

bool is_local(std::string_view host) {
  return host.empty() || host.front() == '/' || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

std::string connection_hint(std::string_view libpq_message) {
  for (const Hint& h : kHints) {
    if (libpq_message.find(h.symptom) != std::string_view::npos) return std::string(h.advice);
  }
  return {};
}

bool is_connect_outage(std::string_view libpq_message) {
  for (std::string_view symptom : kOutageSymptoms) {
    if (libpq_message.find(symptom) != std::string_view::npos) return true;
  }
  return false;
}

std::optional<BlockingConnection> open_startup_connection(const std::string& dsn, const ConnectLimits& limits,
                                                          std::string* outage) {
  const std::string target = dsn.empty() ? "libpq's PG* environment variables" : redact::redact_dsn(dsn);
  std::optional<BlockingConnection> conn;
  try {
    conn.emplace(dsn, limits);
  } catch (const PgError& e) {
    const std::string hint = connection_hint(e.what());
    if (is_connect_outage(e.what())) {
      log_warn("PostgreSQL is unreachable at startup (pg = " + target + "): " + e.what() +
               (hint.empty() ? std::string() : ". Hint: " + hint) + ". Retrying; /readyz says why meanwhile");
      if (outage != nullptr) *outage = e.what();
      return std::nullopt;
    }
    throw PgError("cannot connect to PostgreSQL at startup (pg = " + target + "); nothing was consumed. " + e.what() +
                      (hint.empty() ? std::string() : ". Hint: " + hint),
                  e.sqlstate());
  }
  PGconn* c = conn->raw();
  const std::string host = PQhost(c) != nullptr ? PQhost(c) : "";
  const std::string sslmode = conninfo_value(c, "sslmode");
  std::string line = std::string("PostgreSQL: connected as ") + PQuser(c) + " to database " + PQdb(c) + " on " + host +
                     ":" + PQport(c) + ", ";
  if (PQsslInUse(c) != 0) {
    const char* protocol = PQsslAttribute(c, "protocol");
    const char* cipher = PQsslAttribute(c, "cipher");
    line += std::string("TLS ") + (protocol != nullptr ? protocol : "?") + " (" + (cipher != nullptr ? cipher : "?") +
            "), sslmode=" + sslmode;
    if (sslmode == "verify-full") {
      line += ": server certificate and host name verified";
    } else if (sslmode == "verify-ca") {
      line += ": server certificate verified, host name not checked";
    }
  } else {
    line += "not encrypted (sslmode=" + sslmode + ")";
  }
  log_info(line);
  const bool local = is_local(host);
  if (!local) {
    if (PQsslInUse(c) == 0) {
      log_warn("the connection to PostgreSQL is not encrypted: use sslmode=verify-full with sslrootcert (docs/security.md)");
    } else if (sslmode != "verify-full" && sslmode != "verify-ca") {
      log_warn("the connection to PostgreSQL is encrypted but the server's identity is not verified (sslmode=" + sslmode +
               "): use sslmode=verify-full with sslrootcert (docs/security.md)");
    }
  }
  return conn;
}

}  // namespace mlops_ingest::pg
