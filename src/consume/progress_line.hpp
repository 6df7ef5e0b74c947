#pragma once
// The progress line on stderr every progress_interval_ms: rows/s since the last line, totals,
// duplicates, dead letters, lag, PostgreSQL's state (stats.hpp: format_progress), and a
// replay's share of its window.
//
// Thread model: the consumer thread only.
#include <chrono>
#include <cstdint>

#include "lag_gauges.hpp"
#include "replay_tracker.hpp"

namespace mlops_ingest {

class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressLine(const Config& config, IngestStats& stats, LagGauges& lag, ReplayTracker* replay)
      : cfg_(config), stats_(stats), lag_(lag), replay_(replay) {}

  // Starts the first interval.
  void start(Clock::time_point now) { last_ = now; }
  // Writes the line when its interval has passed (never when progress_interval_ms is 0).
  void maybe_write(Clock::time_point now);

 private:
  const Config& cfg_;
  IngestStats& stats_;
  LagGauges& lag_;
  ReplayTracker* replay_;
  Clock::time_point last_{};
  std::uint64_t rows_ = 0;
};

}  // namespace mlops_ingest
