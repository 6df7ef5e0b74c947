#pragma once
// Retention of the ingester's own tables: dead letters older than dead_letter_retention and
// ingest_appended positions older than appended_retention are deleted, off the hot path — on a
// thread and a connection of their own, every minute, in small batches (each its own short
// transaction, so no batch of the writers waits long on its locks).
//
// Thread model: one background thread, started by the constructor, stopped and joined by the
// destructor. It writes only IngestStats counters.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest::operate {

class RetentionPruner {
 public:
  static constexpr std::size_t kBatchRows = 1000;
  static constexpr std::chrono::seconds kInterval{60};

  RetentionPruner(const Config& config, IngestStats& stats);
  ~RetentionPruner();
  RetentionPruner(const RetentionPruner&) = delete;
  RetentionPruner& operator=(const RetentionPruner&) = delete;

  [[nodiscard]] static bool wanted(const Config& config) noexcept {
    return config.dead_letter_retention.count() > 0 || config.appended_retention.count() > 0;
  }

 private:
  void loop();
  void pass();
  // Deletes the table's rows older than `retention` by `age_column`, kBatchRows at a time, until
  // none is left or a stop is asked for; returns how many.
  std::uint64_t prune(const std::string& table, const char* age_column, std::chrono::seconds retention);
  bool wait(std::chrono::milliseconds d);  // false once stopping

  const Config& cfg_;
  IngestStats& stats_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> stop_flag_{false};  // for a connection attempt in progress
  std::thread thread_;
};

}  // namespace mlops_ingest::operate
