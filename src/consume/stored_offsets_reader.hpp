#pragma once
// Reads the group's offsets stored in PostgreSQL for the consumer thread, without ever making
// it wait on PostgreSQL for longer than it chooses.
//
// Why: the consumer thread must keep polling Kafka through a PostgreSQL outage — to serve
// rebalances, to stay in the group (max.poll.interval.ms), to report itself alive. A read
// runs on a non-blocking libpq connection (PgConnection) driven by an io_context of its own,
// which the consumer thread turns only when it asks: poll() never blocks, read_until() blocks
// at most until its deadline. A failed read is retried after the writers' backoff, never in a
// loop here; a frozen server fails a read after pg_io_timeout_ms.
//
// Thread model: the consumer thread only.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "../pg/retry_backoff.hpp"
#include "mlops_ingest/pg/stored_offsets.hpp"
#include "assigned_partitions.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"

namespace mlops_ingest {

class StoredOffsetsReader {
 public:
  using Clock = std::chrono::steady_clock;
  struct Read {
    PartitionOffsets offsets;
    Clock::time_point started;  // a read started after an event has seen everything committed before it
  };

  StoredOffsetsReader(const Config& config, IngestStats& stats);

  // Starts a read unless one is in flight or the backoff after a failed one has not elapsed.
  void request();
  // Turns the connection's I/O without blocking; returns a read that completed since the last
  // call, once.
  std::optional<Read> poll();
  // Starts a read if none is in flight and turns the I/O until a read completes or `deadline`.
  std::optional<Read> read_until(Clock::time_point deadline);
  // PostgreSQL answered the last attempt (false during an outage).
  [[nodiscard]] bool reachable() const noexcept { return !failing_; }

 private:
  boost::asio::awaitable<void> read_once();
  void publish_rows();  // rows_ → done_

  const Config& cfg_;
  IngestStats& stats_;
  boost::asio::io_context io_;
  pg::PgConnection conn_;
  RetryBackoff backoff_;
  bool in_flight_ = false;
  bool failing_ = false;
  Clock::time_point next_attempt_{};
  Clock::time_point started_{};
  std::vector<StoredOffset> rows_;
  std::optional<Read> done_;
};

}  // namespace mlops_ingest
