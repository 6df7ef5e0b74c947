#include "batch_transaction.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "mlops_ingest/config/memory_budget.hpp"
#include "mlops_ingest/kafka/dead_letter_publisher.hpp"
#include "mlops_ingest/log/log.hpp"
#include "kind_writes.hpp"
#include "prediction_writes.hpp"

namespace mlops_ingest {

namespace {

using boost::asio::awaitable;

// What the plan already settled (before anything is written).
BatchOutcome planned_outcome(const BatchPlan& planned) {
  BatchOutcome out;
  out.stale = planned.stale;
  out.prediction_duplicates = planned.prediction_duplicates;
  out.label_duplicates = planned.label_duplicates;
  out.dead_letters = planned.letters.size();
  out.by_reason = planned.letters_by_reason;
  return out;
}

void publish(IngestStats& s, const BatchOutcome& out) {
  s.predictions_inserted += out.predictions;
  s.prediction_duplicates += out.prediction_duplicates;
  s.labels_inserted += out.labels;
  s.labels_paired += out.labels_paired;
  s.labels_recalled += out.labels_recalled;
  s.labels_pended += out.labels_pended;
  s.labels_released += out.labels_released;
  s.label_duplicates += out.label_duplicates;
  for (std::size_t k = 0; k < kTopicKindCount; ++k) {
    s.kind_rows_written[k] += out.kind_written[k];
    s.kind_rows_replayed[k] += out.kind_replayed[k];
  }
  s.stale_skipped += out.stale;
  s.dead_letters += out.dead_letters;
  for (std::size_t i = 0; i < out.by_reason.size(); ++i) s.dead_letters_by_reason[i] += out.by_reason[i];
  ++s.batches_committed;
  s.last_commit_ns = monotonic_ns();
}

void publish_moves(IngestStats& s, const BatchOutcome& out) {
  s.labels_released += out.labels_released;
  s.label_duplicates += out.label_duplicates;
}

// Kafka message timestamp → this COMMIT, for every message of the batch (one clock read).
void record_event_to_commit(SpscRing<Envelope>& ring, std::size_t n, LatencyBatch& scratch,
                            IngestStats& stats) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  scratch.clear();
  for (std::size_t i = 0; i < n; ++i) {
    scratch.observe(std::chrono::milliseconds(now_ms - ring.consumer_peek(i).kafka_ts_ms));
  }
  stats.event_to_commit_seconds.merge(scratch);
}

}  // namespace

BatchTransaction::BatchTransaction(WriterConnection& link, Lane& lane, const Config& config, IngestStats& stats,
                                   OffsetLedger& ledger, kafka::DeadLetterPublisher* dead_letter_topic)
    : link_(link),
      lane_(lane),
      stats_(stats),
      ledger_(ledger),
      dead_letter_topic_(dead_letter_topic),
      offsets_(config),
      ctx_(link.pg(), lane.ring(), config, planner_),
      labels_(recent_predictions_per_writer(config)),
      tables_(pg::written_tables(&config)),
      outages_(stats, link.id()) {}

awaitable<bool> BatchTransaction::commit(std::size_t n) {
  for (;;) {
    if (link_.should_abort()) co_return false;
    std::optional<pg::PgError> failed;  // handled below: co_await is not allowed inside a handler
    std::vector<pg::SchemaFinding> problems;
    try {
      co_await link_.ensure_connected();
      const std::int64_t started = monotonic_ns();
      co_await commit_batch(n);
      const std::int64_t took = monotonic_ns() - started;
      stats_.writer_commit_ns += static_cast<std::uint64_t>(took);
      stats_.batch_commit_seconds.observe(std::chrono::nanoseconds(took));
      link_.heartbeat().beat();
      link_.leave_outage();
      outages_.leave();
      co_return true;
    } catch (const TableOutageError& e) {
      failed = e;
      problems = e.problems();
    } catch (const pg::PgError& e) {
      // Rejections of single rows are handled inside commit_batch; whatever arrives here is an
      // outage, a table that changed under the ingester, or a problem an operator must fix. The
      // batch stays in the ring and is retried.
      failed = e;
    }
    problems = co_await tables_out(*failed, std::move(problems));
    if (problems.empty()) {
      link_.enter_outage(*failed);
    } else {
      link_.enter_table_outage();
      outages_.enter(problems, *failed);
    }
    co_await link_.back_off();
  }
}

awaitable<std::vector<pg::SchemaFinding>> BatchTransaction::tables_out(const pg::PgError& failed,
                                                                         std::vector<pg::SchemaFinding> found) {
  if (found.empty() && !may_be_a_table(failed)) co_return found;
  if (!conn().connected()) co_return std::vector<pg::SchemaFinding>{};
  try {
    co_await conn().exec("ROLLBACK");
    if (found.empty()) found = co_await table_problems(conn(), tables_);
  } catch (const pg::PgError&) {
    found.clear();  // cannot tell: a plain outage (enter_outage closes the connection)
  }
  co_return found;
}

awaitable<void> BatchTransaction::commit_batch(std::size_t n) {
  co_await begin(n);
  BatchOutcome out = planned_outcome(plan());
  co_await write_rows(out);
  co_await offsets_.advance_and_commit(conn());
  after_commit(n, out);
}

awaitable<void> BatchTransaction::begin(std::size_t n) {
  auto& ring = lane_.ring();
  offsets_.clear();
  dead_.clear();
  labels_.start_batch();
  ctx_.predictions_copy_open = false;
  ctx_.predictions_as_sent = false;
  bool any_prediction = false;
  for (std::size_t i = 0; i < n; ++i) {
    const Envelope& env = ring.consumer_peek(i);
    offsets_.partition_of(env.topic, env.partition);
    any_prediction = any_prediction || env.kind == EnvelopeKind::kPrediction;
  }

  // The previous batch's check after commit (LabelWrites) costs a statement over all the ids
  // it stored; it only runs when label_pending holds anything, which the locking round trip
  // asks. Read after the previous commit, an empty label_pending settles the check: a label
  // parked by a transaction that commits later is checked again by its own writer, whose
  // check then sees these predictions.
  const bool ask_pending = labels_.has_deferred();
  // A batch with predictions also starts their COPY in this round trip, after the savepoint
  // its fast path rolls back to: the rows are streamed as soon as the batch is planned.
  // (Named first: GCC 12 mishandles conditional-expression temporaries in a co_await operand.)
  const std::string_view then_copy =
      any_prediction ? std::string_view(predictions_copy_statement()) : std::string_view{};
  const bool any_pending =
      co_await offsets_.begin_and_lock(conn(), ask_pending, kPredictionsSavepoint.name(), then_copy);
  ctx_.predictions_copy_open = any_prediction;
  if (ask_pending && !any_pending) labels_.drop_deferred();
  offsets_.check_no_regression();

  // Decide which slots this transaction writes, and how (see batch_plan.hpp).
  planner_.plan(
      n, [&ring](std::size_t i) -> const Envelope& { return ring.consumer_peek(i); },
      [this](const Envelope& env) -> std::int64_t& {
        return offsets_.partition_of(env.topic, env.partition).threshold;
      },
      &labels_.recent());
}

awaitable<void> BatchTransaction::write_rows(BatchOutcome& out) {
  // Tables in the order `schema apply` locks them (prediction_logs, then label_store, then the
  // ingester's own): an instance applying the schema while this one writes takes a SHARE lock
  // on each table for its CREATE INDEX IF NOT EXISTS, and the opposite order deadlocks.
  if (!plan().predictions.empty() || ctx_.predictions_copy_open) co_await write_predictions(ctx_, dead_, out);
  // The previous batch's check after commit (LabelWrites), inside this transaction.
  if (labels_.has_deferred()) co_await labels_.release_deferred_in_batch(conn(), out);
  if (plan().any_paired()) co_await labels_.write_paired(ctx_, out);
  if (!plan().labels.empty()) co_await labels_.write_split(ctx_, dead_, out);
  // The kinds written by their description: model_metadata, monitoring_alerts,
  // retraining_metrics (after prediction_logs and label_store, in schema/001_seed_tables.sql's
  // order, which `schema apply` follows too).
  co_await write_kind_rows(ctx_, dead_, out);
  if (dead_.any(plan())) co_await dead_.write(ctx_);
}

void BatchTransaction::after_commit(std::size_t n, const BatchOutcome& out) {
  for (const OffsetsStore::Partition& p : offsets_.partitions()) {
    if (p.threshold > p.stored) ledger_.record(p.topic, p.partition, p.threshold);
  }
  offsets_.remember_committed();
  labels_.after_commit(ctx_);
  record_event_to_commit(lane_.ring(), n, latency_, stats_);
  publish(stats_, out);
  if (dead_letter_topic_ != nullptr) dead_.mirror(ctx_, *dead_letter_topic_);
}

awaitable<void> BatchTransaction::release_deferred() { co_await run_outside_batch(&BatchTransaction::move_deferred); }

awaitable<void> BatchTransaction::sweep_pending() { co_await run_outside_batch(&BatchTransaction::move_swept); }

// An outage is noted and left to the next attempt; a refusal (a rule on label_store) leaves the
// labels in label_pending, visible to operators.
awaitable<void> BatchTransaction::run_outside_batch(awaitable<void> (BatchTransaction::*work)()) {
  try {
    co_await link_.ensure_connected();
    co_await (this->*work)();
    link_.leave_outage();
  } catch (const pg::PgError& e) {
    if (e.is_retryable()) {
      link_.enter_outage(e);
    } else {
      log_warn("moving pending labels refused by PostgreSQL, they stay pending: " + std::string(e.what()));
      labels_.drop_deferred();
    }
  }
}

awaitable<void> BatchTransaction::move_deferred() { publish_moves(stats_, co_await labels_.release_deferred(conn())); }

awaitable<void> BatchTransaction::move_swept() { publish_moves(stats_, co_await LabelWrites::sweep_pending(conn())); }

}  // namespace mlops_ingest
