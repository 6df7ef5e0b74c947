#include "mlops_ingest/pg/connect_timeout.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace mlops_ingest::pg {
namespace {

// libpq's reading of a connect_timeout value: an integer number of seconds, <= 0 meaning none,
// and 1 raised to 2 (one second is too short for its own timer granularity).
std::optional<std::chrono::milliseconds> libpq_seconds(std::string_view text) {
  long long seconds = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  if (seconds <= 0) return std::chrono::milliseconds(0);
  if (seconds == 1) seconds = 2;
  return std::chrono::seconds(seconds);
}

// The DSN's own connect_timeout, if it sets one (PQconninfoParse reads key=value strings and
// URIs alike; it does not look at the environment).
std::optional<std::string> dsn_connect_timeout(const std::string& dsn) {
  if (dsn.empty()) return std::nullopt;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return std::nullopt;
  std::optional<std::string> out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "connect_timeout" && o->val != nullptr && *o->val != '\0') out = o->val;
  }
  PQconninfoFree(options);
  return out;
}

std::atomic<std::int64_t> g_default_ms{kDefaultConnectTimeout.count()};

}  // namespace

std::chrono::milliseconds default_connect_timeout() noexcept { return std::chrono::milliseconds(g_default_ms.load()); }

void set_default_connect_timeout(std::chrono::milliseconds limit) noexcept { g_default_ms.store(limit.count()); }

std::chrono::milliseconds resolve_connect_timeout(const std::string& dsn, std::chrono::milliseconds fallback) {
  if (const std::optional<std::string> own = dsn_connect_timeout(dsn)) {
    if (const auto limit = libpq_seconds(*own)) return *limit;
    return fallback;
  }
  if (const char* env = std::getenv("PGCONNECT_TIMEOUT"); env != nullptr && *env != '\0') {
    if (const auto limit = libpq_seconds(env)) return *limit;
  }
  return fallback;
}

}  // namespace mlops_ingest::pg
