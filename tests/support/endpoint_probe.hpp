#pragma once
// A running ingester's states, read from its operations endpoint by the fault tests: a free port
// to give it (--http-listen), /metrics samples, /readyz and /healthz. A test waits on what the
// ingester reports rather than on its log wording, which may change without its behaviour.
// Header-only: every target that includes it already links fault_env.cpp and http_get.cpp.
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "fault_env.hpp"
#include "http_get.hpp"

namespace mlops_ingest::fault {

// The first free port at or after `from`: above the fault tests' PostgreSQL and PgBouncer ports,
// below the ephemeral range. Instances started one after another pass different `from`s, since
// the one before may not have bound its port yet.
inline int free_http_port(int from = 28461) {
  for (int p = from; p < from + 100; ++p) {
    if (port_is_free(p)) return p;
  }
  throw std::runtime_error("no free port for the ingester's HTTP endpoint");
}

// The --http-listen value for `port`.
inline std::string http_listen(int port) { return "127.0.0.1:" + std::to_string(port); }

// GET `target` from the endpoint on `port`; nullopt while it does not answer.
inline std::optional<testing::HttpReply> endpoint_get(int port, const std::string& target) {
  try {
    return testing::http_get("127.0.0.1", static_cast<std::uint16_t>(port), target);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A sample of /metrics (labels as sample_value takes them); NaN while the endpoint does not
// answer or has no such sample.
inline double metric(int port, const std::string& name, const std::string& labels = "") {
  const std::optional<testing::HttpReply> reply = endpoint_get(port, "/metrics");
  return reply ? testing::sample_value(reply->body, name, labels) : std::nan("");
}

// The partitions the ingester holds, from /readyz's "partitions: N assigned" (0 while it holds
// none); -1 while the endpoint does not answer.
inline int partitions_assigned(int port) {
  const std::optional<testing::HttpReply> reply = endpoint_get(port, "/readyz");
  if (!reply) return -1;
  const std::string key = "partitions: ";
  const auto at = reply->body.find(key);
  if (at == std::string::npos) return -1;
  try {
    return std::stoi(reply->body.substr(at + key.size()));
  } catch (const std::exception&) {
    return 0;  // "partitions: NONE assigned"
  }
}

// True once /healthz reports a drain after a stop request.
inline bool stopping(int port) {
  const std::optional<testing::HttpReply> reply = endpoint_get(port, "/healthz");
  return reply && reply->body.rfind("ok: stopping", 0) == 0;
}

}  // namespace mlops_ingest::fault
