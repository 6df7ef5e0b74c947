#include "stored_offsets_reader.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <random>

#include "../pg/ingest_sql.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

StoredOffsetsReader::StoredOffsetsReader(const Config& config, IngestStats& stats)
    : cfg_(config),
      stats_(stats),
      conn_(io_, config.pg, config.pg_io_timeout, "mlops-ingest-consumer"),
      backoff_(config.retry_backoff_initial, config.retry_backoff_max, std::random_device{}()) {}

void StoredOffsetsReader::request() {
  if (in_flight_ || Clock::now() < next_attempt_) return;
  in_flight_ = true;
  started_ = Clock::now();
  boost::asio::co_spawn(io_, read_once(), boost::asio::detached);
}

boost::asio::awaitable<void> StoredOffsetsReader::read_once() {
  try {
    if (!conn_.connected()) co_await conn_.connect();
    // Named before the co_await: GCC 12 mishandles temporaries in a co_await operand.
    const std::vector<std::string> params{cfg_.group};
    const std::vector<pg::PgResult> results = co_await conn_.exec_params(pg::sql::stored_offsets(), params);
    parse_stored_offsets(results.back().get(), cfg_, rows_);
    publish_rows();
    if (failing_) log_info("stored offsets readable again");
    failing_ = false;
    backoff_.reset();
  } catch (const std::exception& e) {
    conn_.close();
    ++stats_.pg_retries;
    if (!failing_) log_warn(std::string("reading stored offsets failed, will retry: ") + e.what());
    failing_ = true;
    next_attempt_ = Clock::now() + backoff_.next();
  }
  in_flight_ = false;
}

void StoredOffsetsReader::publish_rows() {
  Read read;
  read.started = started_;
  for (const StoredOffset& row : rows_) read.offsets[{row.topic, row.partition}] = row.next_offset;
  done_ = std::move(read);
}

std::optional<StoredOffsetsReader::Read> StoredOffsetsReader::poll() {
  if (in_flight_) {
    io_.restart();
    io_.poll();
  }
  return std::exchange(done_, std::nullopt);
}

std::optional<StoredOffsetsReader::Read> StoredOffsetsReader::read_until(Clock::time_point deadline) {
  request();
  while (in_flight_ && Clock::now() < deadline) {
    io_.restart();
    io_.run_one_until(deadline);
  }
  return std::exchange(done_, std::nullopt);
}

}  // namespace mlops_ingest
