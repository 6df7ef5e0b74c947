#pragma once
// The first connection `mlops-ingest run` makes, before it consumes anything. A connection that
// fails for a mistake (a wrong CA, a certificate for another host name, a wrong password, a
// missing pg_hba line or role) stops startup with libpq's message and a hint saying what to
// change: retrying would only hide it. A server that is down, starting or out of reach is an
// outage like any other: startup goes on (a sidecar must not crash-loop while its database
// starts): the ingester tries again (app/startup_gate.hpp), /readyz saying why meanwhile.
#include <optional>
#include <string>
#include <string_view>

#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::pg {

// Connects once; logs where to and how (TLS protocol and cipher, whether the server's identity
// was verified) and warns about an unencrypted or unverified connection to a remote host.
// Returns the connection, for the rest of the startup checks; nothing (after a warning, with
// libpq's message in `*outage` when given) if PostgreSQL is unreachable for now; throws PgError
// (redacted DSN, libpq's message, a hint) if the connection fails for any other reason, or was
// abandoned because `limits.stop` became true.
std::optional<BlockingConnection> open_startup_connection(const std::string& dsn, const ConnectLimits& limits = {},
                                                          std::string* outage = nullptr);

// True for libpq connection failures that are outages (refused, timed out, starting up, ...).
bool is_connect_outage(std::string_view libpq_message);

// A hint for a libpq connection failure message ("" if none applies).
std::string connection_hint(std::string_view libpq_message);

}  // namespace mlops_ingest::pg
