#pragma once
// The whole pipeline: one consumer thread (librdkafka high-level consumer, simdjson parsing,
// routing into per-writer rings) and `writers` BatchWriter threads.
//
//   Kafka ──poll──▶ ConsumerLoop ──parse/validate/encode──▶ SpscRing[w] ──▶ BatchWriter[w] ──COPY──▶ PostgreSQL
//                       ▲   (partition p of both topics goes to writer p % writers, so a
//                       │    prediction and its label meet in one writer, in partition order)
//                       └── OffsetLedger ◀── offsets committed in PostgreSQL, mirrored to Kafka
//
// Thread model: run() is called once, on the caller's thread, which becomes the consumer
// thread. request_stop() is async-signal-safe and may be called from anywhere.
#include <atomic>
#include <memory>
#include <optional>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/replay/replay_window.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest {

class Ingester {
 public:
  explicit Ingester(Config config);
  // A replay (`mlops-ingest replay`): consumes only `window`; run() returns once it is done.
  Ingester(Config config, ReplayWindow window);
  ~Ingester();
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  // Consumes until request_stop() (or, with idle_exit set, until caught up and idle), drains
  // in-flight batches within shutdown_timeout, and returns the process exit code: 0, or 1 if a
  // writer failed, or for a replay kReplayStopped when it stopped before the end of its window.
  int run();
  static constexpr int kReplayStopped = 3;
  void request_stop() noexcept { stop_.store(true); }
  [[nodiscard]] const IngestStats& stats() const noexcept { return stats_; }
  [[nodiscard]] std::string summary() const;

 private:
  Config config_;
  std::optional<ReplayWindow> replay_;
  IngestStats stats_;
  std::atomic<bool> stop_{false};
  std::int64_t started_ns_ = 0;
};

}  // namespace mlops_ingest
