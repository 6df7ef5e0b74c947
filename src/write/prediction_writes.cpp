#include "prediction_writes.hpp"

#include <optional>

#include "../pg/ingest_sql.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "staged_rows.hpp"
#include "table_outage.hpp"

namespace mlops_ingest {

namespace {

using pg::ElementType;

constexpr ElementType kPredictionTypes[] = {
    ElementType::kText,   ElementType::kTimestamp, ElementType::kText,   ElementType::kText,
    ElementType::kInt4,   ElementType::kFloat8,    ElementType::kInt4,   ElementType::kFloat8,
    ElementType::kFloat8, ElementType::kInt4,      ElementType::kText,   ElementType::kInt4};

constexpr std::string_view kPredictionTables[] = {"prediction_logs"};

boost::asio::awaitable<void> insert_predictions_staged(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out) {
  co_await insert_staged(ctx, dead, out, pg::sql::insert_predictions_skip_duplicates(), kPredictionTypes,
                         ctx.plan().predictions, kPredictionTables,
                         [&out](const std::vector<pg::PgResult>& r, std::size_t lo, std::size_t hi) {
                           const std::uint64_t inserted = pg::affected_rows(r.front().get());
                           out.predictions += inserted;
                           out.prediction_duplicates += (hi - lo) - inserted;
                         });
}

}  // namespace

const std::string& predictions_copy_statement() { return pg::sql::copy_predictions(); }

boost::asio::awaitable<void> write_predictions(WriteContext& ctx, DeadLetters& dead, BatchOutcome& out) {
  ctx.chunks.clear();
  ctx.chunks.push_back(pg::kCopyHeader);
  for (std::uint32_t i : ctx.plan().predictions) ctx.chunks.push_back(ctx.slot(i).tuple);
  ctx.chunks.push_back(pg::kCopyTrailer);
  // Under kPredictionsSavepoint, opened by the locking round trip; on success it is left for the
  // COMMIT to release (what the batch writes next nests in it, harmlessly).
  auto copy = [&]() -> boost::asio::awaitable<void> {
    if (ctx.predictions_copy_open) {
      ctx.predictions_copy_open = false;
      out.predictions += co_await ctx.conn.finish_copy(ctx.chunks);
    } else {
      out.predictions += co_await ctx.conn.copy_in(pg::sql::copy_predictions(), ctx.chunks);
    }
    ctx.predictions_as_sent = true;
  };
  const std::optional<pg::PgError> refused =
      co_await try_under_savepoint(ctx.conn, kPredictionsSavepoint, SavepointMode::kAlreadyOpen, copy);
  if (refused) {
    // A type a DBA changed refuses the binary COPY but may pass the staged path's casts: the
    // table is out either way, as the startup check would say.
    co_await check_refusal(ctx.conn, kPredictionTables, *refused);
    // Paired labels assumed every prediction of the batch new, with the created_at sent (the
    // recalled ones were committed before, as sent).
    ctx.predictions_as_sent = false;
    ctx.planner.unpair_in_batch();
    co_await insert_predictions_staged(ctx, dead, out);
  }
}

}  // namespace mlops_ingest
