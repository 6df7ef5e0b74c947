#pragma once
#include <optional>
#include <string_view>

#include "mlops_ingest/event/events.hpp"

namespace mlops_ingest {

// Parses an RFC 3339 date-time ("2026-01-05T12:00:00.123+02:00", 'T'/'t'/' ' separator,
// 'Z'/'z' or a numeric offset, up to 9 fraction digits: digits past microseconds are
// truncated) into UTC microseconds since 2000-01-01. Rejects impossible dates (2026-02-30,
// 2026-13-45), hours > 23, minutes > 59, seconds > 60 (a leap second 60 is taken as 59.999999,
// since PostgreSQL cannot store it either). Returns false (and leaves `out` alone) when the text
// is not valid. The parser's hot path calls this form: returning std::optional<int64_t> went
// through the stack as a 1-byte flag store and an 8-byte reload, a store-forwarding stall.
bool parse_rfc3339(std::string_view text, PgTimestamp& out) noexcept;

// The same, as an optional: nullopt when the text is not valid.
inline std::optional<PgTimestamp> parse_rfc3339(std::string_view text) noexcept {
  PgTimestamp t = 0;
  if (parse_rfc3339(text, t)) return t;
  return std::nullopt;
}

// Unix epoch milliseconds (Kafka message timestamps) to PostgreSQL microseconds.
constexpr PgTimestamp pg_timestamp_from_unix_ms(std::int64_t unix_ms) noexcept {
  constexpr std::int64_t kPgEpochUnixSeconds = 946684800;  // 2000-01-01T00:00:00Z
  return (unix_ms - kPgEpochUnixSeconds * 1000) * 1000;
}

}  // namespace mlops_ingest
