#pragma once
// How many labels wait for their prediction in label_pending, and how long the oldest has
// waited: the endpoint's probe and `mlops-ingest status` both report it, so they read it alike.
#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <optional>

namespace mlops_ingest::observe {

// One row: count(*), and the oldest row's age in seconds (NULL when the table is empty).
inline constexpr const char* kPendingLabelsSql =
    "SELECT count(*), EXTRACT(EPOCH FROM now() - min(received_at))::float8 FROM label_pending";

struct PendingLabels {
  std::int64_t count = 0;
  std::optional<double> oldest_seconds;  // none when nothing is pending
};

inline PendingLabels parse_pending_labels(const PGresult* r) {
  PendingLabels out;
  out.count = std::strtoll(PQgetvalue(r, 0, 0), nullptr, 10);
  if (PQgetisnull(r, 0, 1) == 0) out.oldest_seconds = std::strtod(PQgetvalue(r, 0, 1), nullptr);
  return out;
}

}  // namespace mlops_ingest::observe
