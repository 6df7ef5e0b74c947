#pragma once
// What the ingester's thread tells a writer thread: stop by a deadline (commit what the ring
// holds, then exit), or abort (exit as soon as possible). The flags belong to BatchWriter; the
// writer's units read them through this view.
//
// Thread model: written by any thread (BatchWriter::request_stop, abort), read by the writer's.
#include <atomic>
#include <cstdint>

#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest {

struct WriterControl {
  const std::atomic<bool>& stop_requested;
  const std::atomic<bool>& abort_requested;
  const std::atomic<std::int64_t>& stop_deadline_ns;

  [[nodiscard]] bool stopping() const noexcept { return stop_requested.load(); }
  // On abort(), or past the stop deadline: what is still in flight is given up (it stays
  // uncommitted, and is consumed again after a restart).
  [[nodiscard]] bool should_abort() const noexcept {
    if (abort_requested.load()) return true;
    return stop_requested.load() && monotonic_ns() > stop_deadline_ns.load();
  }
};

}  // namespace mlops_ingest
