#pragma once
// When a writer writes, and how much: smart batching over its ring, the batch_linger_ms wait,
// the pending-label sweep's interval, and the sleep on the RingSignal in between.
//
// Thread model: owned by one writer session and used on its io_context only; the ring's
// producer side and the signal's notify() belong to the consumer thread.
#include <chrono>
#include <cstddef>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/handoff/lane.hpp"
#include "mlops_ingest/stats/heartbeat.hpp"
#include "writer_control.hpp"

namespace mlops_ingest {

class BatchGatherer {
 public:
  BatchGatherer(boost::asio::io_context& io, Lane& lane, const Config& config, WriterControl control,
                Heartbeat& heartbeat);

  // Smart batching: a writer with nothing in flight takes whatever its ring holds at once (up
  // to batch_rows / batch_bytes), so latency follows the load: under load rows pile up while
  // the previous batch commits and the next batch is bigger by itself. batch_linger_ms > 0
  // adds a wait for fuller batches. Returns how many slots from the head form the batch (0:
  // nothing to write now; the caller looks after pending labels). With `labels_deferred` (a
  // check after commit is waiting), an empty ring returns at once instead of waiting for rows.
  boost::asio::awaitable<std::size_t> gather(bool labels_deferred);
  // Whether the idle sweep of label_pending is due; if so, its interval starts again now.
  [[nodiscard]] bool claim_sweep();

 private:
  using Clock = std::chrono::steady_clock;

  // Sleeps until the consumer publishes rows (RingSignal), a stop or abort request, or timeout.
  boost::asio::awaitable<void> wait_for_rows(Clock::duration timeout);

  Lane& lane_;
  const Config& cfg_;
  WriterControl control_;
  Heartbeat& heartbeat_;
  boost::asio::posix::stream_descriptor signal_fd_;  // a dup of the RingSignal's eventfd
  boost::asio::steady_timer wait_timer_;
  Clock::time_point last_sweep_{};
};

}  // namespace mlops_ingest
