#pragma once
// One batch, one transaction: BEGIN and lock the batch's partitions, plan the batch, write each
// kind of row, the dead letters, advance the offsets and COMMIT — retried over outages for as
// long as it takes — then record the offsets in the ledger and publish what the batch changed.
// Also the pending-label work an idle writer does between batches.
//
// How each kind of row is written lives in the *_writes units; the fenced offsets in
// offsets_store; the connection and its outages in writer_connection.
//
// Thread model: owned by one writer session and used on its io_context only.
#include <cstddef>
#include <string>
#include <vector>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/handoff/lane.hpp"
#include "mlops_ingest/handoff/offset_ledger.hpp"
#include "mlops_ingest/stats/latency_histogram.hpp"
#include "mlops_ingest/stats/stats.hpp"
#include "mlops_ingest/write/batch_plan.hpp"
#include "dead_letters.hpp"
#include "label_writes.hpp"
#include "offsets_store.hpp"
#include "table_outage.hpp"
#include "write_context.hpp"
#include "writer_connection.hpp"

namespace mlops_ingest {
namespace kafka {
class DeadLetterPublisher;
}

class BatchTransaction {
 public:
  // dead_letter_topic: optional mirror of dead letters (nullptr: off).
  BatchTransaction(WriterConnection& link, Lane& lane, const Config& config, IngestStats& stats,
                   OffsetLedger& ledger, kafka::DeadLetterPublisher* dead_letter_topic);

  // Commits the ring's first n slots in one transaction, retrying outages (with backoff) until
  // it commits; returns false when the writer must abort first (the batch stays uncommitted).
  boost::asio::awaitable<bool> commit(std::size_t n);

  // Between batches (see LabelWrites): whether the last commit left a check to run, the check
  // on its own, and the idle sweep of label_pending.
  [[nodiscard]] bool has_deferred() const noexcept { return labels_.has_deferred(); }
  boost::asio::awaitable<void> release_deferred();
  boost::asio::awaitable<void> sweep_pending();

 private:
  boost::asio::awaitable<void> commit_batch(std::size_t n);
  // After a failed attempt: the tables' problems, from `found` (a TableOutageError's) or, when
  // the failure may be a table's, from the drift check run again. With problems the failed
  // transaction is rolled back and the connection kept; without, it is a plain outage.
  boost::asio::awaitable<std::vector<pg::SchemaFinding>> tables_out(const pg::PgError& failed,
                                                                    std::vector<pg::SchemaFinding> found);
  // BEGIN and lock (starting the predictions' COPY in the same round trip), then plan.
  boost::asio::awaitable<void> begin(std::size_t n);
  // The planned rows, table by table, and the dead letters; booked into `out`.
  boost::asio::awaitable<void> write_rows(BatchOutcome& out);
  // After COMMIT: the ledger, the check after commit, the stats, the dead-letter mirror.
  void after_commit(std::size_t n, const BatchOutcome& out);
  // Pending-label work in its own (single-statement) transaction.
  boost::asio::awaitable<void> run_outside_batch(boost::asio::awaitable<void> (BatchTransaction::*work)());
  boost::asio::awaitable<void> move_deferred();
  boost::asio::awaitable<void> move_swept();

  [[nodiscard]] pg::PgConnection& conn() noexcept { return link_.pg(); }
  [[nodiscard]] const BatchPlan& plan() const noexcept { return planner_.current(); }

  WriterConnection& link_;
  Lane& lane_;
  IngestStats& stats_;
  OffsetLedger& ledger_;
  kafka::DeadLetterPublisher* dead_letter_topic_;
  // Per-batch state, reused across batches.
  BatchPlanner planner_;
  OffsetsStore offsets_;
  WriteContext ctx_;
  DeadLetters dead_;
  LabelWrites labels_;
  LatencyBatch latency_;
  const std::vector<std::string> tables_;  // every table this configuration writes
  TableOutages outages_;
};

}  // namespace mlops_ingest
