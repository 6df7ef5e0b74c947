#include "label_writes.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <optional>

#include "../pg/ingest_sql.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "savepoint.hpp"
#include "staged_rows.hpp"
#include "table_outage.hpp"

namespace mlops_ingest {

namespace {

using pg::ElementType;

constexpr std::size_t kPrefetchAhead = 16;  // rows ahead whose tuple is asked for

constexpr ElementType kLabelTypes[] = {ElementType::kText, ElementType::kInt4, ElementType::kTimestamp,
                                       ElementType::kText, ElementType::kInt4};
constexpr ElementType kIdTypes[] = {ElementType::kText};

const Savepoint kPairedSavepoint{"paired"};  // the paired labels' COPY, undone when refused

// What each write fills: the tables checked for drift when PostgreSQL refuses it (table_outage.hpp).
constexpr std::string_view kPairedTables[] = {"label_store"};
constexpr std::string_view kSplitTables[] = {"label_store", "label_pending"};

// Books a move out of label_pending (see pg::sql::release_pending) into `out`.
void count_moved(const pg::PgResult& r, BatchOutcome& out) {
  const std::uint64_t moved = std::stoull(PQgetvalue(r.get(), 0, 0));
  const std::uint64_t stored = std::stoull(PQgetvalue(r.get(), 0, 1));
  out.labels_released += stored;
  out.label_duplicates += moved - stored;
}

}  // namespace

void LabelWrites::DeferredIds::clear() { reset(kIdTypes); }

LabelWrites::LabelWrites(std::size_t recent_predictions) : recent_(recent_predictions) {}

boost::asio::awaitable<void> LabelWrites::write_paired(WriteContext& ctx, BatchOutcome& out) {
  ctx.copy_buf.assign(pg::kCopyHeader);
  const BatchPlan& p = ctx.plan();
  // In prediction_id order, as the predictions' COPY (batch_plan.hpp): each row's insert into
  // label_store's unique index, and its foreign key's probe of prediction_logs' index, then goes
  // where the previous row's left the pages, not to a random leaf. Sorted on the slots' id
  // digests, as the predictions are. The planner has already kept one label per id.
  paired_order_.clear();
  for (std::size_t k = 0; k < p.paired_labels.size(); ++k) {
    const Envelope& label = ctx.slot(p.paired_labels[k]);
    paired_order_.push_back(IdSortKey{label.id.prefix, prediction_id(label), static_cast<std::uint32_t>(k)});
  }
  for (std::size_t k = 0; k < p.recalled_labels.size(); ++k) {
    const Envelope& label = ctx.slot(p.recalled_labels[k]);
    paired_order_.push_back(IdSortKey{label.id.prefix, prediction_id(label), static_cast<std::uint32_t>(k) | kRecalledRow});
  }
  std::sort(paired_order_.begin(), paired_order_.end());
  // In id order the label tuples are read in no order of the ring, each most likely a cache
  // miss (the consumer wrote it on the other core): ask for the one a few rows ahead.
  const auto label_slot = [&p](const IdSortKey& row) {
    return (row.slot & kRecalledRow) != 0 ? p.recalled_labels[row.slot & ~kRecalledRow] : p.paired_labels[row.slot];
  };
  for (std::size_t r = 0; r < paired_order_.size(); ++r) {
    if (r + kPrefetchAhead < paired_order_.size()) {
      __builtin_prefetch(ctx.slot(label_slot(paired_order_[r + kPrefetchAhead])).tuple.data());
    }
    const IdSortKey& row = paired_order_[r];
    const std::string& tuple = ctx.slot(label_slot(row)).tuple;
    if ((row.slot & kRecalledRow) != 0) {
      append_recalled_label(tuple, p.recalled_created_at[row.slot & ~kRecalledRow], ctx.copy_buf);
    } else {
      append_paired_label(tuple, ctx.slot(p.paired_with[row.slot]), ctx.copy_buf);
    }
  }
  const std::uint64_t recalled = p.recalled_labels.size();
  ctx.copy_buf.append(pg::kCopyTrailer);
  ctx.chunks.clear();
  ctx.chunks.push_back(ctx.copy_buf);
  std::uint64_t copied = 0;
  auto copy = [&]() -> boost::asio::awaitable<void> {
    copied = co_await ctx.conn.copy_in(pg::sql::copy_label_store(), ctx.chunks);
  };
  const std::optional<pg::PgError> refused =
      co_await try_under_savepoint(ctx.conn, kPairedSavepoint, SavepointMode::kOpen, copy);
  if (refused) {
    co_await check_refusal(ctx.conn, kPairedTables, *refused);
    ctx.planner.unpair();
  } else {
    out.labels += copied;
    out.labels_paired += copied;
    out.labels_recalled += recalled;
  }
}

boost::asio::awaitable<void> LabelWrites::write_split(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out) {
  co_await insert_staged(ctx, dead, out, pg::sql::split_labels(), kLabelTypes, ctx.plan().labels, kSplitTables,
                         [this, &out](const std::vector<pg::PgResult>& r, std::size_t lo, std::size_t hi) {
                           const PGresult* rows = r.front().get();
                           std::uint64_t stored = 0, pended = 0;
                           for (int i = 0; i < PQntuples(rows); ++i) {
                             if (PQgetisnull(rows, i, 1)) {
                               stored = std::stoull(PQgetvalue(rows, i, 0));
                             } else {
                               ++pended;
                               parked_ids_.emplace_back(PQgetvalue(rows, i, 1),
                                                        static_cast<std::size_t>(PQgetlength(rows, i, 1)));
                             }
                           }
                           out.labels += stored;
                           out.labels_pended += pended;
                           out.label_duplicates += (hi - lo) - stored - pended;
                         });
}

void LabelWrites::after_commit(const WriteContext& ctx) {
  const BatchPlan& plan = ctx.plan();
  // Before remember(): a handle names its generation, which remembering may drop.
  for (const std::uint64_t handle : plan.recalled_handles) recent_.mark_labelled(handle);
  const bool remember = ctx.predictions_as_sent && recent_.enabled();
  if (remember) {
    labelled_.assign(ctx.ring.capacity(), false);
    for (const std::uint32_t slot : plan.paired_with) labelled_[slot] = true;
  }
  deferred_.clear();
  if (plan.predictions.empty() && parked_ids_.empty()) return;
  deferred_.reset(kIdTypes);
  // The tuples have left the cache since the COPY streamed them (a batch is megabytes), so
  // reading the ids one by one would wait on a cache miss each, while the backend idles between
  // transactions: ask for the tuple a few predictions ahead.
  const std::vector<std::uint32_t>& predictions = plan.predictions;
  for (std::size_t k = 0; k < predictions.size(); ++k) {
    if (k + kPrefetchAhead < predictions.size()) {
      __builtin_prefetch(ctx.slot(predictions[k + kPrefetchAhead]).tuple.data() + 6);
    }
    const Envelope& env = ctx.slot(predictions[k]);
    const std::string_view id = prediction_id(env);
    deferred_.add_element(id);
    if (!remember) continue;
    recent_.remember(id, env.id.hash, env.created_at_us, labelled_[predictions[k]]);
  }
  for (const std::string& id : parked_ids_) deferred_.add_element(id);
}

boost::asio::awaitable<void> LabelWrites::release_deferred_in_batch(pg::PgConnection& conn, BatchOutcome& out) {
  std::vector<pg::PgResult> r = co_await conn.exec_binary(pg::sql::release_pending(), deferred_.params());
  count_moved(r.front(), out);
}

boost::asio::awaitable<BatchOutcome> LabelWrites::release_deferred(pg::PgConnection& conn) {
  std::vector<pg::PgResult> r = co_await conn.exec_binary(pg::sql::release_pending(), deferred_.params());
  BatchOutcome out;
  count_moved(r.front(), out);
  deferred_.clear();
  co_return out;
}

boost::asio::awaitable<BatchOutcome> LabelWrites::sweep_pending(pg::PgConnection& conn) {
  std::vector<pg::PgResult> results = co_await conn.exec(pg::sql::sweep_pending());
  BatchOutcome out;
  count_moved(results.back(), out);
  co_return out;
}

}  // namespace mlops_ingest
