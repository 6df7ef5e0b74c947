#pragma once
// The first connection `mlops-ingest run` makes, before it consumes anything. Once running, a
// lost connection is an outage the writers retry for as long as it takes; at startup, a
// connection that fails is far more likely a mistake (a wrong CA, a certificate for another host
// name, a wrong password, a missing pg_hba line) that retrying would only hide. So it stops
// startup with libpq's message and a hint saying what to change.
#include <string>
#include <string_view>

namespace mlops_ingest::pg {

// Connects once; logs where to and how (TLS protocol and cipher, whether the server's identity
// was verified) and warns about an unencrypted or unverified connection to a remote host.
// Throws PgError (redacted DSN, libpq's message, a hint) if the connection fails.
void check_startup_connection(const std::string& dsn);

// A hint for a libpq connection failure message ("" if none applies).
std::string connection_hint(std::string_view libpq_message);

}  // namespace mlops_ingest::pg
