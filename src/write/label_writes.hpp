#pragma once
// How a batch's labels reach label_store (docs/design.md "Labels"): paired with their
// prediction in memory (COPY), decided by PostgreSQL in one statement (stored or parked in
// label_pending), and the check after commit that moves parked labels once their prediction
// is stored (deferred release, and the idle sweep).
//
// Labels meet their predictions without a lock: a batch that stores predictions and a batch
// (of any writer or instance) that parks their labels can each miss the other, since neither
// sees the other's uncommitted rows. So both check again AFTER their own commit — in the next
// transaction of the same writer, or on their own when the writer goes idle: whichever of the
// two commits later then sees the other's rows and moves the label. A label parked by a batch
// that never gets its check (a crash) is moved by a later sweep.
//
// Thread model: owned by one writer session.
#include <string>
#include <vector>

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "dead_letters.hpp"
#include "mlops_ingest/write/recent_predictions.hpp"
#include "write_context.hpp"

namespace mlops_ingest {

class LabelWrites {
 public:
  // recent_predictions: how many committed predictions to remember for pairing labels of later
  // batches (RecentPredictions; 0: none).
  explicit LabelWrites(std::size_t recent_predictions);

  void start_batch() { parked_ids_.clear(); }  // at the start of each batch attempt

  // Labels whose prediction this transaction just stored, or this writer committed lately
  // (recalled): straight into label_store with COPY (days_delayed computed here), no join and
  // no label_pending. One already stored (a replay) or refused — a recalled prediction deleted
  // since — makes PostgreSQL decide them with the other labels instead (the batch unpaired).
  boost::asio::awaitable<void> write_paired(WriteContext& ctx, BatchOutcome& out);
  // The other labels, one statement (pg::sql::split_labels) bisected on refused rows; remembers
  // the ids it parked for the check after commit.
  boost::asio::awaitable<void> write_split(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out);

  // The ids whose pending labels the next transaction checks again (the predictions just
  // stored, the labels just parked); kept across retries of that transaction until one commits,
  // or dropped when that transaction found label_pending empty (BatchTransaction::begin).
  [[nodiscard]] bool has_deferred() const noexcept { return !deferred_.empty(); }
  // After COMMIT, before the slots are released: the check after commit to run next, and what
  // to remember of the predictions just stored (and of the labels of recalled ones).
  void after_commit(const WriteContext& ctx);
  // The predictions this writer committed lately (BatchPlanner::plan recalls from them).
  [[nodiscard]] const RecentPredictions& recent() const noexcept { return recent_; }
  void drop_deferred() { deferred_.clear(); }
  // The deferred check inside the next batch transaction (moves booked into `out`).
  boost::asio::awaitable<void> release_deferred_in_batch(pg::PgConnection& conn, BatchOutcome& out);
  // The deferred check on its own (an idle writer); returns the moves and forgets the ids.
  boost::asio::awaitable<BatchOutcome> release_deferred(pg::PgConnection& conn);
  // Every pending label whose prediction is stored (an idle writer's safety net).
  static boost::asio::awaitable<BatchOutcome> sweep_pending(pg::PgConnection& conn);

 private:
  class DeferredIds : public pg::ArrayParams {
   public:
    [[nodiscard]] bool empty() const noexcept { return rows() == 0; }
    void clear();
  };
  std::vector<std::string> parked_ids_;  // labels this batch parked in label_pending
  // The paired COPY's rows in prediction_id order (write_paired), reused batch after batch.
  // IdSortKey::slot is the row's index in plan.paired_labels, or in plan.recalled_labels with
  // kRecalledRow set (a batch has far fewer than 2^31 slots).
  static constexpr std::uint32_t kRecalledRow = 0x8000'0000U;
  std::vector<IdSortKey> paired_order_;
  DeferredIds deferred_;
  RecentPredictions recent_;
  std::vector<bool> labelled_;  // by ring slot: a prediction of the batch paired with a label
};

}  // namespace mlops_ingest
