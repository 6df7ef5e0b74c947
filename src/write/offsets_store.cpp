#include "offsets_store.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

#include "../pg/ingest_sql.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"

namespace mlops_ingest {

void OffsetsStore::clear() {
  for (const Partition& p : partitions_) index_[index_key(p.topic, p.partition)] = kNotInBatch;
  partitions_.clear();
}

OffsetsStore::Partition& OffsetsStore::partition_of(TopicKind topic, std::int32_t partition) {
  // Asked twice per row of every batch: an array indexed by (partition, topic), not a search of
  // the batch's partitions.
  if (partition < 0) throw std::out_of_range("partition " + std::to_string(partition) + " is not a Kafka partition");
  const std::size_t key = index_key(topic, partition);
  if (key >= index_.size()) index_.resize(key + 1, kNotInBatch);
  std::uint32_t& at = index_[key];
  if (at == kNotInBatch) {
    at = static_cast<std::uint32_t>(partitions_.size());
    partitions_.push_back({topic, partition});
  }
  return partitions_[at];
}

std::string OffsetsStore::partition_tuples(const pg::PgConnection& conn, bool advanced_only) const {
  std::string out;
  for (const Partition& p : partitions_) {
    if (advanced_only && p.threshold <= p.stored) continue;
    if (!out.empty()) out += ',';
    out += '(';
    out += conn.escape_literal(topic_name(p.topic));
    out += ',';
    out += std::to_string(p.partition);
    if (advanced_only) {
      out += ',';
      out += std::to_string(p.threshold);
    }
    out += ')';
  }
  return out;
}

boost::asio::awaitable<bool> OffsetsStore::begin_and_lock(pg::PgConnection& conn, bool ask_pending,
                                                          std::string_view savepoint, std::string_view then_copy) {
  std::string sql = pg::sql::lock_offsets(conn.escape_literal(cfg_.group), cfg_.pg_synchronous_commit,
                                          partition_tuples(conn, false), ask_pending, savepoint);
  std::vector<pg::PgResult> results;
  if (then_copy.empty()) {
    results = co_await conn.exec(sql);
  } else {
    sql += "; ";
    sql += then_copy;
    results = co_await conn.start_copy(sql);  // the statements' results, not the COPY's
  }
  // The offsets' rows are the last result, or the one before the SAVEPOINT's.
  const std::size_t rows_at = results.size() - (savepoint.empty() ? 1 : 2);
  bool any_pending = false;
  if (ask_pending) {
    const PGresult* exists = results[rows_at - 1].get();
    any_pending = PQntuples(exists) == 1 && std::string_view(PQgetvalue(exists, 0, 0)) == "t";
  }
  parse_stored_offsets(results[rows_at].get(), cfg_, read_);
  for (const StoredOffset& row : read_) {
    for (Partition& p : partitions_) {
      if (p.topic == row.topic && p.partition == row.partition) p.stored = p.threshold = row.next_offset;
    }
  }
  co_return any_pending;
}

boost::asio::awaitable<void> OffsetsStore::advance_and_commit(pg::PgConnection& conn) {
  const std::string advanced = partition_tuples(conn, true);
  // Built before the co_await, never as a temporary inside it: GCC 12 destroys the temporary
  // of a conditional expression in a co_await operand twice ("free(): invalid pointer").
  std::string group;
  if (!advanced.empty()) group = conn.escape_literal(cfg_.group);
  const std::string sql = pg::sql::advance_offsets_and_commit(group, advanced);
  std::vector<pg::PgResult> r = co_await conn.exec(sql);
  if (std::string_view(PQcmdStatus(r.back().get())) != "COMMIT") {
    throw pg::PgError("the batch transaction was rolled back by the server", "40000");
  }
}

void OffsetsStore::check_no_regression() const {
  for (const Partition& p : partitions_) {
    const auto it = committed_.find({p.topic, p.partition});
    if (it != committed_.end() && p.stored < it->second) {
      throw std::runtime_error("ingest_offsets for " + topic_name(p.topic) + " partition " +
                               std::to_string(p.partition) + " went back from " + std::to_string(it->second) +
                               " to " + std::to_string(p.stored) +
                               ": PostgreSQL lost committed batches; restart to consume them again");
    }
  }
}

void OffsetsStore::remember_committed() {
  for (const Partition& p : partitions_) {
    if (p.threshold > p.stored) committed_[{p.topic, p.partition}] = p.threshold;
  }
}

}  // namespace mlops_ingest
