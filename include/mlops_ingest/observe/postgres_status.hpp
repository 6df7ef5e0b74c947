#pragma once
// What the endpoint's own PostgreSQL probe last saw (src/observe/postgres_probe.cpp); read by
// the readiness check and the metrics. A plain value: the probe and the HTTP handlers run on
// the same thread, so it is copied, never shared.
#include <cstdint>
#include <optional>
#include <string>

namespace mlops_ingest::observe {

struct PostgresStatus {
  bool checked = false;    // at least one probe has finished
  bool reachable = false;  // the last probe connected and got an answer
  std::optional<std::int64_t> labels_pending;            // rows in label_pending
  std::optional<double> oldest_pending_label_seconds;    // age of its oldest row (0 when empty)
  std::string error;       // why the last probe failed; empty when it did not
};

}  // namespace mlops_ingest::observe
