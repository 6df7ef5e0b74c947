#pragma once
// ingest_offsets as a batch transaction sees it: the fenced read and update each batch makes.
// The SQL is in pg/ingest_sql; the rows are parsed by pg/stored_offsets.
//
// Thread model: an OffsetsStore belongs to one writer session.
#include <libpq-fe.h>

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/stored_offsets.hpp"

namespace mlops_ingest {
namespace pg {
class PgConnection;
}

// One batch's partitions in ingest_offsets. Locking them first, in a fixed order, serialises
// two writers (of this instance or another) that both believe they own a partition — a
// rebalance in flight; the `stored` offsets it reads fence what this batch may still write.
class OffsetsStore {
 public:
  struct Partition {
    TopicKind topic;
    std::int32_t partition;
    std::int64_t stored = -1;     // next_offset in ingest_offsets when the batch locked it
    std::int64_t threshold = -1;  // first offset this batch may still write
  };

  explicit OffsetsStore(const Config& config) : cfg_(config) {}

  void clear();
  // The batch's state for a partition, added on first sight.
  Partition& partition_of(TopicKind topic, std::int32_t partition);
  [[nodiscard]] std::span<const Partition> partitions() const noexcept { return partitions_; }

  // BEGIN the batch transaction, create the batch's missing rows and lock them all; sets each
  // partition's `stored` and `threshold` to the next_offset read. With `ask_pending`, returns
  // whether label_pending holds any row, read in the same round trip (else false). With a
  // `savepoint` name, also opens that savepoint after the locks (pg::sql::lock_offsets). With a
  // `then_copy` statement (COPY ... FROM STDIN), also starts it, last: the connection is then
  // left waiting for its data (PgConnection::finish_copy).
  boost::asio::awaitable<bool> begin_and_lock(pg::PgConnection& conn, bool ask_pending = false,
                                              std::string_view savepoint = {}, std::string_view then_copy = {});
  // Raises next_offset to `threshold` for every partition the batch moved, and COMMITs, in one
  // round trip. Throws PgError when the server answers the COMMIT with a rollback.
  boost::asio::awaitable<void> advance_and_commit(pg::PgConnection& conn);

  // next_offset only ever moves forward (it is locked and raised in the batch transaction).
  // Below what this writer itself committed, PostgreSQL has lost committed batches (a failover
  // to an asynchronous standby, a restore, synchronous_commit=off and a crash); the consumer is
  // already past those messages, so writing on would store offsets over a gap. So after
  // begin_and_lock, this throws std::runtime_error when a partition's `stored` went below what
  // remember_committed() noted for it: the writer stops, and a restart resumes from the offsets
  // that survived and reads those messages again.
  void check_no_regression() const;
  // After the COMMIT: notes each moved partition's new next_offset for check_no_regression().
  void remember_committed();

 private:
  [[nodiscard]] const std::string& topic_name(TopicKind t) const {
    return cfg_.topic_of(t);
  }
  // "(topic, partition[, threshold]), …" with the topic quoted by the connection; with
  // `advanced_only`, only the partitions this batch moved, with their new next_offset.
  std::string partition_tuples(const pg::PgConnection& conn, bool advanced_only) const;

  static constexpr std::uint32_t kNotInBatch = std::numeric_limits<std::uint32_t>::max();
  [[nodiscard]] static std::size_t index_key(TopicKind topic, std::int32_t partition) noexcept {
    // Kafka partitions are numbered from 0.
    return static_cast<std::size_t>(static_cast<std::uint32_t>(partition)) * kTopicKindCount +
           static_cast<std::size_t>(topic);
  }

  const Config& cfg_;
  std::vector<Partition> partitions_;
  std::vector<std::uint32_t> index_;  // by index_key: the partition's place in partitions_, or kNotInBatch
  std::map<std::pair<TopicKind, std::int32_t>, std::int64_t> committed_;  // next_offset this writer stored
  std::vector<StoredOffset> read_;  // scratch for the locked rows
};

}  // namespace mlops_ingest
