#pragma once
// What the write modes of one batch transaction share: the writer's connection, ring and plan,
// the tally of what the batch changed, and scratch buffers reused from batch to batch (the
// steady state allocates nothing).
//
// Thread model: owned by one writer's BatchTransaction; never shared.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/write/batch_plan.hpp"
#include "mlops_ingest/handoff/envelope.hpp"
#include "mlops_ingest/handoff/spsc_ring.hpp"

namespace mlops_ingest {

// What a committed batch changed; added to the shared stats only after COMMIT succeeds.
struct BatchOutcome {
  std::uint64_t predictions = 0, prediction_duplicates = 0;
  std::uint64_t labels = 0, labels_paired = 0, labels_pended = 0, labels_released = 0, label_duplicates = 0;
  std::uint64_t labels_recalled = 0;  // of labels_paired: with a prediction of an earlier batch
  std::uint64_t stale = 0, dead_letters = 0;
  // The kinds written by their description, by TopicKind (see IngestStats).
  std::array<std::uint64_t, kTopicKindCount> kind_written{}, kind_replayed{};
  std::array<std::uint64_t, kRejectReasonCount> by_reason{};
};

struct WriteContext {
  WriteContext(pg::PgConnection& c, SpscRing<Envelope>& r, const Config& config, BatchPlanner& p)
      : conn(c), ring(r), cfg(config), planner(p) {}

  [[nodiscard]] const BatchPlan& plan() const noexcept { return planner.current(); }
  [[nodiscard]] const Envelope& slot(std::uint32_t i) const noexcept { return ring.consumer_peek(i); }
  [[nodiscard]] const std::string& topic_name(TopicKind t) const noexcept {
    return cfg.topic_of(t);
  }

  pg::PgConnection& conn;
  SpscRing<Envelope>& ring;
  const Config& cfg;
  BatchPlanner& planner;
  // The predictions' COPY was started by the batch's locking round trip (BatchTransaction::begin):
  // write_predictions streams its rows into it instead of starting one, and must end it even
  // with no rows to send.
  bool predictions_copy_open = false;
  // The batch's predictions were all stored by the COPY fast path, exactly as sent (what the
  // writer may remember of them after COMMIT: RecentPredictions).
  bool predictions_as_sent = false;
  // Scratch, reused across batches.
  std::vector<std::string_view> chunks;  // COPY data: header, tuples, trailer
  pg::ArrayParams arrays;                 // array parameters of a staged statement
  std::string copy_buf;                   // COPY data built here rather than taken from slots
};

}  // namespace mlops_ingest
