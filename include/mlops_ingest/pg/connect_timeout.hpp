#pragma once
// How long one connection attempt to PostgreSQL may take. libpq honours its `connect_timeout`
// only in its blocking connect; the ingester connects with PQconnectStart/PQconnectPoll
// (PgConnection, BlockingConnection) and enforces the limit itself, so every connection has one:
// a server that drops packets is an outage the caller retries, never a thread parked forever.
#include <chrono>
#include <string>

namespace mlops_ingest::pg {

// The default of the `pg_connect_timeout_ms` setting.
inline constexpr std::chrono::milliseconds kDefaultConnectTimeout{10000};

// The limit of every connection of this process whose DSN sets none: kDefaultConnectTimeout
// until `run` (or a tool) sets pg_connect_timeout_ms here, once, before it connects.
std::chrono::milliseconds default_connect_timeout() noexcept;
void set_default_connect_timeout(std::chrono::milliseconds limit) noexcept;

// The limit for `dsn`: its own connect_timeout (seconds, key=value or URI) when it sets one,
// else PGCONNECT_TIMEOUT from the environment when `dsn` names no connect_timeout, else
// `fallback`. libpq's rules apply to the DSN's value: 0 or less is "wait forever" (returned as
// 0 ms) and 1 counts as 2 seconds. A DSN libpq cannot parse yields `fallback` (connecting then
// fails with libpq's own message).
std::chrono::milliseconds resolve_connect_timeout(const std::string& dsn, std::chrono::milliseconds fallback);

}  // namespace mlops_ingest::pg
