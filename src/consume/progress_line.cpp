#include "progress_line.hpp"

#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

void ProgressLine::maybe_write(Clock::time_point now) {
  if (cfg_.progress_interval.count() <= 0 || now - last_ < cfg_.progress_interval) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  const std::uint64_t rows = stats_.rows_stored() + stats_.prediction_duplicates + stats_.label_duplicates;
  const double rate = seconds > 0 ? static_cast<double>(rows - rows_) / seconds : 0;
  rows_ = rows;
  last_ = now;
  // Formatting the line costs more than the level check: skip it when the line is not written.
  const std::int64_t lag = lag_.publish();
  if (!log_enabled(LogLevel::kInfo)) return;
  log_info(format_progress(stats_, rate, lag),
           {{"rows_stored", stats_.rows_stored()},
            {"rows_per_second", static_cast<std::int64_t>(rate)},
            {"dead_letters", stats_.dead_letters.load(std::memory_order_relaxed)},
            {"lag", lag}});
  if (replay_ != nullptr) log_info(replay_->line(now));
}

}  // namespace mlops_ingest
