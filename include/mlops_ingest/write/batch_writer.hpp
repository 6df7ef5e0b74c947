#pragma once
// A writer thread: drains its ring into PostgreSQL in batches, one transaction per batch that
// holds the rows, the dead letters and the next Kafka offsets of the batch's partitions.
//
// Thread model: the BatchWriter object is created and destroyed by the ingester's thread; it
// owns one std::thread running a Boost.Asio io_context with one PostgreSQL connection (libpq
// non-blocking). The ring's producer side belongs to the consumer thread; request_stop(),
// abort(), failed() and lane() may be called from any thread. An idle writer sleeps
// on its RingSignal instead of polling the ring.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/handoff/lane.hpp"
#include "mlops_ingest/handoff/offset_ledger.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest {
namespace kafka {
class DeadLetterPublisher;
}

class BatchWriter {
 public:
  // dead_letter_topic: optional mirror of dead letters (nullptr: off); must outlive the writer.
  BatchWriter(int id, const Config& config, IngestStats& stats, OffsetLedger& ledger,
              kafka::DeadLetterPublisher* dead_letter_topic = nullptr);
  ~BatchWriter();  // aborts if still running, then joins
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  void start();
  // Commit everything already in the ring, then exit. Rows not committed by `deadline` stay
  // uncommitted (and are consumed again after a restart): nothing is lost.
  void request_stop(std::chrono::steady_clock::time_point deadline);
  void abort() noexcept;  // exit as soon as possible, committing nothing more
  void join();

  // What the consumer fills: this writer's ring, its wake-up signal, its failed flag.
  [[nodiscard]] Lane& lane() noexcept { return lane_; }
  [[nodiscard]] SpscRing<Envelope>& ring() noexcept { return lane_.ring(); }
  [[nodiscard]] bool failed() const noexcept { return lane_.failed(); }
  [[nodiscard]] bool finished() const noexcept { return finished_.load(); }

 private:
  class Session;  // the io_context and the batch loop over the writer's units (batch_writer.cpp)

  const int id_;
  const Config& config_;
  IngestStats& stats_;
  OffsetLedger& ledger_;
  kafka::DeadLetterPublisher* dead_letter_topic_;
  Lane lane_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> abort_requested_{false};
  std::atomic<std::int64_t> stop_deadline_ns_{0};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace mlops_ingest
