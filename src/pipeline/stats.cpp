#include "mlops_ingest/pipeline/stats.hpp"

#include <chrono>
#include <cstdio>

namespace mlops_ingest {

std::string IngestStats::dead_letter_breakdown() const {
  std::string out;
  for (int i = 0; i < kRejectReasonCount; ++i) {
    const std::uint64_t n = dead_letters_by_reason[static_cast<std::size_t>(i)].load();
    if (n == 0) continue;
    if (!out.empty()) out += ' ';
    out += reason_code(static_cast<RejectReason>(i));
    out += '=';
    out += std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

std::string IngestStats::labels_parked_percent() const {
  const std::uint64_t decided = labels_inserted.load() + labels_pended.load();
  if (decided == 0) return "0%";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(labels_pended.load()) / static_cast<double>(decided));
  return buf;
}

std::int64_t monotonic_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace mlops_ingest
