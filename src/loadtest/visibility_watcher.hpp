#pragma once
// What `loadtest` watches in PostgreSQL, from the watching thread: when each latency probe became
// visible, and how many of the run's rows are visible. Two connections: the count of visible rows
// runs on its own connection, sent without waiting for it, so the probe queries (the latency
// measurement) never queue behind it.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::loadtest {

using Clock = std::chrono::steady_clock;

// "lt-<run>-0000000042": zero-padded, so the run's ids sort in send order and form one range.
std::string event_id(const std::string& run, std::uint64_t seq);
inline std::string range_low(const std::string& run) { return "lt-" + run + "-"; }
inline std::string range_high(const std::string& run) { return "lt-" + run + "."; }  // '.' follows '-'

// The probes: every k-th event's send time, and when it was seen (a shared, locked table; the
// producer appends, the watcher marks).
struct Probes {
  std::mutex mutex;
  std::vector<Clock::time_point> sent_at;  // by probe number
  std::vector<double> latency_ms;          // by probe number; < 0 while not seen
  std::size_t first_unseen = 0;
};

class VisibilityWatcher {
 public:
  VisibilityWatcher(const std::string& dsn, const std::string& run);  // throws PgError

  // Looks for the unseen probes sent so far; records the latencies (ms) of the ones now visible
  // into `seen_now`. A probe's latency ends when the query that found it returns: never before
  // it became visible, and late by at most the time between two polls.
  void poll_probes(Probes& probes, std::uint64_t every, std::vector<double>& seen_now);

  struct Count {
    std::uint64_t sent = 0;     // predictions sent when the count was asked
    std::uint64_t visible = 0;  // of those, visible
    bool after_sending = false;  // asked after sending had ended
  };
  // Sends the count of visible rows without waiting; one at a time.
  void start_count(std::uint64_t sent, bool after_sending);
  [[nodiscard]] bool counting() const noexcept { return counting_; }
  // The count asked by start_count, once PostgreSQL has answered; never blocks.
  std::optional<Count> take_count();

 private:
  pg::BlockingConnection probes_conn_;
  pg::BlockingConnection count_conn_;
  std::string run_;
  bool counting_ = false;
  Count asked_;
  std::uint64_t confirmed_ = 0;  // events 0..confirmed_-1 were all seen visible
  std::uint64_t checking_ = 0;   // the count under way also checks events confirmed_..checking_-1
};

}  // namespace mlops_ingest::loadtest
