#include "batch_gatherer.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unistd.h>

namespace mlops_ingest {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

BatchGatherer::BatchGatherer(asio::io_context& io, Lane& lane, const Config& config, WriterControl control,
                             Heartbeat& heartbeat)
    : lane_(lane),
      cfg_(config),
      control_(control),
      heartbeat_(heartbeat),
      signal_fd_(io, ::dup(lane.signal().fd())),
      wait_timer_(io) {}

bool BatchGatherer::claim_sweep() {
  if (Clock::now() - last_sweep_ < cfg_.pending_sweep_interval) return false;
  last_sweep_ = Clock::now();
  return true;
}

awaitable<std::size_t> BatchGatherer::gather(bool labels_deferred) {
  auto& ring = lane_.ring();
  std::size_t counted = 0, bytes = 0;
  Clock::time_point first_seen{};
  for (;;) {
    heartbeat_.beat();  // an idle writer wakes at least every pending_sweep_interval_ms
    const std::size_t available = ring.consumer_refresh();
    while (counted < available && counted < cfg_.batch_rows && bytes < cfg_.batch_bytes) {
      bytes += ring.consumer_peek(counted).tuple.size();
      ++counted;
    }
    if (counted >= cfg_.batch_rows || bytes >= cfg_.batch_bytes) co_return counted;
    const auto now = Clock::now();
    if (counted > 0 && first_seen == Clock::time_point{}) first_seen = now;
    if (control_.stopping() || control_.should_abort()) co_return counted;
    if (counted > 0 && now - first_seen >= cfg_.batch_linger) co_return counted;
    if (counted == 0 && (labels_deferred || now - last_sweep_ >= cfg_.pending_sweep_interval)) co_return 0;
    const Clock::time_point until =
        counted > 0 ? first_seen + cfg_.batch_linger : last_sweep_ + cfg_.pending_sweep_interval;
    co_await wait_for_rows(until - now);
  }
}

awaitable<void> BatchGatherer::wait_for_rows(Clock::duration timeout) {
  RingSignal& signal = lane_.signal();
  signal.prepare_sleep();
  if (lane_.ring().consumer_refresh() > 0 || control_.stopping() || control_.should_abort()) {
    signal.cancel_sleep();
    co_return;
  }
  wait_timer_.expires_after(timeout);
  wait_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) signal_fd_.cancel();
  });
  boost::system::error_code ec;
  co_await signal_fd_.async_wait(asio::posix::stream_descriptor::wait_read, asio::redirect_error(use_awaitable, ec));
  wait_timer_.cancel();
  signal.cancel_sleep();
  signal.drain();
}

}  // namespace mlops_ingest
