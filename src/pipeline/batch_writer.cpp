#include "mlops_ingest/pipeline/batch_writer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <map>
#include <stdexcept>
#include <random>
#include <string_view>
#include <vector>

#include "mlops_ingest/kafka/dead_letter_publisher.hpp"
#include "mlops_ingest/log.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/pipeline/row_encoder.hpp"

namespace mlops_ingest {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using pg::PgError;

namespace {

constexpr std::string_view kStagePredictions = "mlops_stage_predictions";
constexpr std::string_view kStageLabels = "mlops_stage_labels";

// Staging tables use unconstrained types so that a value the real table refuses fails at the
// INSERT ... SELECT, where bisection can isolate the row, not while staging the whole batch.
constexpr std::string_view kPrepareSession =
    "SET TimeZone = 'UTC';"
    "SET application_name = 'mlops-ingest';"
    "CREATE TEMP TABLE IF NOT EXISTS mlops_stage_predictions ("
    "  seq integer, prediction_id text, created_at timestamp, model_version text,"
    "  model_stage text, prediction integer, probability float8, age integer,"
    "  debt_ratio float8, monthly_income float8, number_dependents integer,"
    "  request_source text, response_time_ms integer) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS mlops_stage_labels ("
    "  seq integer, prediction_id text, true_label integer, label_timestamp timestamp,"
    "  label_source text, days_delayed integer) ON COMMIT DELETE ROWS;";

// days_delayed, when the event did not say: whole days between prediction and label.
constexpr std::string_view kDaysDelayed =
    "floor(extract(epoch FROM (%.label_timestamp - p.created_at)) / 86400)::integer";

std::string days_delayed_expr(std::string_view alias) {
  std::string expr(kDaysDelayed);
  expr.replace(expr.find('%'), 1, alias);
  return expr;
}

// Labels and predictions meet on this advisory lock (transaction-scoped): a batch that stored
// predictions takes it exclusively before releasing pending labels; a batch that splits labels
// into label_store / label_pending takes it shared first. So a label split can never run
// between a prediction's insert and that batch's release with neither seeing the other (the
// split waits for the commit, or the release's snapshot sees the committed pending label).
constexpr std::string_view kLabelRendezvousLock = "SELECT pg_advisory_xact_lock(7263540012)";
constexpr std::string_view kLabelRendezvousShared = "SELECT pg_advisory_xact_lock_shared(7263540012)";

// Moves the labels a `moved` CTE deleted from label_pending into label_store, computing
// days_delayed where the event did not give it. Shared by the two ways pending labels move.
std::string move_pending_sql(std::string_view moved_cte) {
  return std::string(moved_cte) +
         "INSERT INTO label_store (" + std::string(kLabelColumns) + ") "
         "SELECT m.prediction_id, m.true_label, m.label_timestamp, m.label_source, "
         "  COALESCE(m.days_delayed, " + days_delayed_expr("m") + ") "
         "FROM moved m JOIN prediction_logs p ON p.prediction_id = m.prediction_id "
         "ON CONFLICT (prediction_id) DO NOTHING";
}

// Releases the pending labels of the predictions this batch stored: work proportional to the
// batch, not to label_pending (which a backfill can fill with hundreds of thousands of rows).
const std::string& release_pending_sql() {
  static const std::string sql = move_pending_sql(
      "WITH moved AS (DELETE FROM label_pending lp WHERE lp.prediction_id = ANY($1::text[]) "
      "  AND EXISTS (SELECT 1 FROM prediction_logs p WHERE p.prediction_id = lp.prediction_id) RETURNING lp.*) ");
  return sql;
}

// {"id1","id2",...}: a text[] literal.
void append_array_element(std::string& out, std::string_view id) {
  out += out.size() > 1 ? ",\"" : "\"";
  for (char c : id) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// Moves every pending label whose prediction is stored into label_store (the idle writers'
// safety net, e.g. for labels whose batch was retried). SKIP LOCKED: two writers
// sweeping at once split the work instead of waiting on (or deadlocking with) each other.
const std::string& sweep_sql() {
  static const std::string sql = move_pending_sql(
      "WITH ready AS (SELECT lp.prediction_id FROM label_pending lp "
      "  JOIN prediction_logs p ON p.prediction_id = lp.prediction_id "
      "  FOR UPDATE OF lp SKIP LOCKED), "
      "moved AS (DELETE FROM label_pending lp USING ready r "
      "  WHERE lp.prediction_id = r.prediction_id RETURNING lp.*) ");
  return sql;
}

struct PartitionState {
  TopicKind topic;
  std::int32_t partition;
  std::int64_t stored = -1;     // next_offset in ingest_offsets when the batch locked it
  std::int64_t threshold = -1;  // first offset this batch may still write
};

// What a committed batch changed; added to the shared stats only after COMMIT succeeds.
struct BatchOutcome {
  std::uint64_t predictions = 0, prediction_duplicates = 0;
  std::uint64_t labels = 0, labels_pended = 0, labels_released = 0, label_duplicates = 0;
  std::uint64_t stale = 0, dead_letters = 0;
  std::array<std::uint64_t, kRejectReasonCount> by_reason{};
};

// Open-addressing set of prediction_ids within one batch (views into ring slots, which stay
// put until the batch is released): no allocation per row, unlike std::unordered_set.
class BatchIdSet {
 public:
  void reset(std::size_t expected) {
    std::size_t want = 16;
    while (want < expected * 2) want <<= 1;
    if (table_.size() != want) table_.assign(want, {});
    else std::fill(table_.begin(), table_.end(), std::string_view{});
  }
  // True if `id` was not in the set (and inserts it).
  bool insert(std::string_view id) {
    const std::size_t mask = table_.size() - 1;
    for (std::size_t i = std::hash<std::string_view>{}(id) & mask;; i = (i + 1) & mask) {
      if (table_[i].data() == nullptr) {
        table_[i] = id;
        return true;
      }
      if (table_[i] == id) return false;
    }
  }

 private:
  std::vector<std::string_view> table_;
};

}  // namespace

class BatchWriter::Session {
 public:
  explicit Session(BatchWriter& owner)
      : w_(owner),
        cfg_(owner.config_),
        conn_(io_, owner.config_.pg, owner.config_.pg_io_timeout),
        rng_(std::random_device{}() + static_cast<unsigned>(owner.id_)) {}

  void run() {
    asio::co_spawn(io_, main_loop(), [this](std::exception_ptr error) {
      main_done_ = true;
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log_error("writer " + std::to_string(w_.id_) + " stopped on an unexpected error: " + e.what());
      }
      w_.failed_ = true;
    });
    asio::co_spawn(io_, abort_watch(), asio::detached);
    io_.run();
  }

 private:
  using Clock = std::chrono::steady_clock;

  [[nodiscard]] bool should_abort() const {
    if (w_.abort_requested_.load()) return true;
    return w_.stop_requested_.load() && monotonic_ns() > w_.stop_deadline_ns_.load();
  }

  awaitable<void> sleep_for(std::chrono::nanoseconds d) {
    asio::steady_timer timer(io_);
    timer.expires_after(d);
    co_await timer.async_wait(use_awaitable);
  }

  // A retry backoff that ends early once the writer must abort (past the shutdown deadline).
  awaitable<void> backoff_for(std::chrono::nanoseconds d) {
    const auto until = Clock::now() + d;
    while (!should_abort() && Clock::now() < until) {
      co_await sleep_for(std::min<std::chrono::nanoseconds>(until - Clock::now(), std::chrono::milliseconds(50)));
    }
  }

  // Past the shutdown deadline (or on abort()), a request PostgreSQL does not answer — a frozen
  // or unreachable server — is given up at once rather than after pg_io_timeout_ms, so that
  // shutdown_timeout_ms holds whatever PostgreSQL does. Giving up loses nothing: the batch's
  // offsets are not stored either, and it is consumed again after a restart.
  awaitable<void> abort_watch() {
    while (!main_done_) {
      co_await sleep_for(std::chrono::milliseconds(50));
      if (should_abort()) conn_.cancel();
    }
  }

  awaitable<void> main_loop() {
    auto& ring = w_.ring_;
    while (!should_abort()) {
      const std::size_t n = co_await gather();
      if (n == 0) {
        if (w_.stop_requested_.load() && ring.consumer_refresh() == 0) break;
        co_await idle_sweep();
        continue;
      }
      if (!co_await commit_with_retries(n)) break;  // aborted: leave the batch uncommitted
      ring.consumer_release(n);
    }
    conn_.close();
    w_.finished_ = true;
  }

  // Waits until the ring holds a full batch (rows or bytes) or its oldest row has lingered;
  // returns how many slots from the head form the batch (0: nothing to do now).
  awaitable<std::size_t> gather() {
    auto& ring = w_.ring_;
    std::size_t counted = 0, bytes = 0;
    Clock::time_point first_seen{};
    for (;;) {
      const std::size_t available = ring.consumer_refresh();
      while (counted < available && counted < cfg_.batch_rows && bytes < cfg_.batch_bytes) {
        bytes += ring.consumer_peek(counted).tuple.size();
        ++counted;
      }
      if (counted >= cfg_.batch_rows || bytes >= cfg_.batch_bytes) co_return counted;
      if (counted > 0 && first_seen == Clock::time_point{}) first_seen = Clock::now();
      if (w_.stop_requested_.load() || should_abort()) co_return counted;
      if (counted > 0 && Clock::now() - first_seen >= cfg_.batch_linger) co_return counted;
      if (counted == 0 && Clock::now() - last_sweep_ >= cfg_.pending_sweep_interval) co_return 0;
      // Poll the ring: finely while a batch is forming (its linger is running), coarsely when
      // it is empty, so an idle writer wakes up rarely.
      co_await sleep_for(counted > 0 ? std::chrono::microseconds(500) : std::chrono::microseconds(2000));
    }
  }

  std::chrono::milliseconds next_backoff() {
    // Exponential backoff with "equal jitter": half the delay fixed, half random.
    const auto cap = cfg_.retry_backoff_max.count();
    const auto base = std::min<long long>(cap, cfg_.retry_backoff_initial.count() << std::min(attempt_, 20));
    ++attempt_;
    std::uniform_int_distribution<long long> jitter(0, std::max<long long>(base / 2, 1));
    return std::chrono::milliseconds(base / 2 + jitter(rng_));
  }

  awaitable<void> ensure_connected() {
    if (conn_.connected()) co_return;
    co_await conn_.connect();
    co_await conn_.exec(std::string(kPrepareSession) + "SET synchronous_commit = " + cfg_.pg_synchronous_commit);
    if (ever_connected_) {
      ++w_.stats_.pg_reconnects;
      log_info("writer " + std::to_string(w_.id_) + ": reconnected to PostgreSQL");
    }
    ever_connected_ = true;
  }

  void enter_outage(const PgError& e) {
    ++w_.stats_.pg_retries;
    if (!waiting_for_pg_) {
      waiting_for_pg_ = true;
      ++w_.stats_.writers_waiting_for_pg;
    }
    const std::string detail = (e.sqlstate().empty() ? std::string() : "SQLSTATE " + e.sqlstate() + ": ") + e.what();
    if (e.is_retryable()) {
      log_warn("writer " + std::to_string(w_.id_) + ": PostgreSQL unavailable, will retry (" + detail + ")");
    } else {
      // Not an outage and not one row's fault (the dead-letter COPY, the offsets UPDATE, a rule
      // on ingest_offsets...): the batch is kept and retried until an operator fixes the cause.
      log_error("writer " + std::to_string(w_.id_) +
                ": PostgreSQL refused the batch transaction, retrying until this is fixed (" + detail + ")");
    }
  }

  void leave_outage() {
    attempt_ = 0;
    if (waiting_for_pg_) {
      waiting_for_pg_ = false;
      --w_.stats_.writers_waiting_for_pg;
    }
  }

  // Returns false when aborted before the batch could commit.
  awaitable<bool> commit_with_retries(std::size_t n) {
    for (;;) {
      if (should_abort()) co_return false;
      try {
        co_await ensure_connected();
        const std::int64_t started = monotonic_ns();
        co_await commit_batch(n);
        w_.stats_.writer_commit_ns += static_cast<std::uint64_t>(monotonic_ns() - started);
        leave_outage();
        co_return true;
      } catch (const PgError& e) {
        // Rejections of single rows are handled inside commit_batch; whatever arrives here is an
        // outage or a problem an operator must fix. The batch stays in the ring and is retried.
        enter_outage(e);
        conn_.close();
      }
      co_await backoff_for(next_backoff());
    }
  }

  awaitable<void> idle_sweep() {
    last_sweep_ = Clock::now();
    try {
      co_await ensure_connected();
      std::vector<pg::PgResult> results = co_await conn_.exec(sweep_sql());
      const std::uint64_t moved = pg::affected_rows(results.back().get());
      w_.stats_.labels_released += moved;
      leave_outage();
    } catch (const PgError& e) {
      if (e.is_retryable()) {
        enter_outage(e);
        conn_.close();
      } else {
        log_warn("pending-label sweep refused by PostgreSQL: " + std::string(e.what()));
      }
    }
  }

  PartitionState& partition_of(const Envelope& env) {
    for (PartitionState& p : partitions_) {
      if (p.topic == env.topic && p.partition == env.partition) return p;
    }
    partitions_.push_back({env.topic, env.partition});
    return partitions_.back();
  }

  [[nodiscard]] const std::string& topic_name(TopicKind t) const {
    return t == TopicKind::kPredictions ? cfg_.predictions_topic : cfg_.labels_topic;
  }

  std::string partition_tuples(bool with_offsets) {
    std::string out;
    for (const PartitionState& p : partitions_) {
      if (with_offsets && p.threshold <= p.stored) continue;
      if (!out.empty()) out += ',';
      out += '(';
      out += conn_.escape_literal(topic_name(p.topic));
      out += ',';
      out += std::to_string(p.partition);
      if (with_offsets) {
        out += ',';
        out += std::to_string(p.threshold);
      }
      out += ')';
    }
    return out;
  }

  // Locks this batch's partitions in ingest_offsets (creating missing rows) and reads where each
  // stands. Locking first serialises two instances that both think they own a partition.
  awaitable<void> lock_offsets() {
    const std::string group = conn_.escape_literal(cfg_.group);
    std::string sql = "BEGIN; INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) "
                      "SELECT " + group + ", t, p, -1 FROM (VALUES " + partition_tuples(false) +
                      ") AS v(t, p) ON CONFLICT DO NOTHING; "
                      "SELECT topic, kafka_partition, next_offset FROM ingest_offsets WHERE consumer_group = " +
                      group + " AND (topic, kafka_partition) IN (" + partition_tuples(false) +
                      ") ORDER BY topic, kafka_partition FOR UPDATE";
    std::vector<pg::PgResult> results = co_await conn_.exec(sql);
    const PGresult* rows = results.back().get();
    for (int r = 0; r < PQntuples(rows); ++r) {
      const std::string_view topic = PQgetvalue(rows, r, 0);
      const auto partition = static_cast<std::int32_t>(std::stol(PQgetvalue(rows, r, 1)));
      const std::int64_t next = std::stoll(PQgetvalue(rows, r, 2));
      for (PartitionState& p : partitions_) {
        if (p.partition == partition && topic_name(p.topic) == topic) p.stored = p.threshold = next;
      }
    }
  }

  // COPY one range of staged rows and insert it; on a data error bisect down to the rows
  // PostgreSQL refuses and dead-letter exactly those.
  awaitable<void> insert_staged(const std::vector<std::uint32_t>& seqs, std::size_t lo, std::size_t hi,
                                bool labels, BatchOutcome& out) {
    if (lo >= hi) co_return;
    const std::string lo_seq = std::to_string(seqs[lo]);
    const std::string hi_seq = std::to_string(seqs[hi - 1]);
    chunks_.clear();
    stage_buf_.clear();
    stage_buf_.append(pg::kCopyHeader);
    for (std::size_t k = lo; k < hi; ++k) {
      const Envelope& env = w_.ring_.consumer_peek(seqs[k]);
      pg::CopyTupleWriter tw(stage_buf_);
      tw.put16(static_cast<std::uint16_t>(pg::read_be16(env.tuple.data()) + 1));
      tw.int4(static_cast<std::int32_t>(seqs[k]));
      stage_buf_.append(env.tuple, 2, std::string::npos);
    }
    stage_buf_.append(pg::kCopyTrailer);
    chunks_.push_back(stage_buf_);
    const std::string_view stage = labels ? kStageLabels : kStagePredictions;
    const std::string_view columns = labels ? kLabelColumns : kPredictionColumns;
    const std::string range = " WHERE s.seq BETWEEN " + lo_seq + " AND " + hi_seq + " ";
    try {
      co_await conn_.exec("SAVEPOINT stage");
      co_await conn_.copy_in("COPY " + std::string(stage) + " (seq, " + std::string(columns) +
                                 ") FROM STDIN (FORMAT binary)", chunks_);
      if (!labels) {
        std::vector<pg::PgResult> r = co_await conn_.exec(
            "INSERT INTO prediction_logs (" + std::string(columns) + ") SELECT " + std::string(columns) +
            " FROM mlops_stage_predictions s" + range + "ORDER BY s.seq ON CONFLICT (prediction_id) DO NOTHING; "
            "RELEASE SAVEPOINT stage");
        const std::uint64_t inserted = pg::affected_rows(r.front().get());
        out.predictions += inserted;
        out.prediction_duplicates += (hi - lo) - inserted;
      } else {
        // One statement, so one snapshot decides for every label whether its prediction is
        // stored: with two statements a prediction committed in between would make a label
        // miss both label_store and label_pending.
        std::vector<pg::PgResult> r = co_await conn_.exec(
            "WITH staged AS (SELECT s.*, p.created_at AS predicted_at, p.prediction_id IS NOT NULL AS ready "
            "  FROM mlops_stage_labels s LEFT JOIN prediction_logs p ON p.prediction_id = s.prediction_id" +
            range + "), "
            "stored AS (INSERT INTO label_store (" + std::string(columns) + ") "
            "  SELECT prediction_id, true_label, label_timestamp, label_source, COALESCE(days_delayed, "
            "    floor(extract(epoch FROM (label_timestamp - predicted_at)) / 86400)::integer) "
            "  FROM staged WHERE ready ORDER BY seq ON CONFLICT (prediction_id) DO NOTHING RETURNING 1), "
            "pended AS (INSERT INTO label_pending (" + std::string(columns) + ") "
            "  SELECT " + std::string(columns) + " FROM staged WHERE NOT ready ORDER BY seq "
            "  ON CONFLICT (prediction_id) DO NOTHING RETURNING 1) "
            "SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM pended); RELEASE SAVEPOINT stage");
        const std::uint64_t stored = std::stoull(PQgetvalue(r.front().get(), 0, 0));
        const std::uint64_t pended = std::stoull(PQgetvalue(r.front().get(), 0, 1));
        out.labels += stored;
        out.labels_pended += pended;
        out.label_duplicates += (hi - lo) - stored - pended;
      }
    } catch (const PgError& e) {
      if (e.is_retryable()) throw;
      pending_error_ = e;  // handled below: co_await is not allowed inside a handler
    }
    if (pending_error_) {
      const PgError error = *std::exchange(pending_error_, std::nullopt);
      co_await conn_.exec("ROLLBACK TO SAVEPOINT stage; RELEASE SAVEPOINT stage");
      if (hi - lo == 1) {
        reject_row(seqs[lo], error, out);
      } else {
        const std::size_t mid = lo + (hi - lo) / 2;
        co_await insert_staged(seqs, lo, mid, labels, out);
        co_await insert_staged(seqs, mid, hi, labels, out);
      }
    }
  }

  void reject_row(std::uint32_t slot, const PgError& error, BatchOutcome& out) {
    const Envelope& env = w_.ring_.consumer_peek(slot);
    std::string message = "PostgreSQL refused the row: ";
    message += error.what();
    rejected_meta_.push_back({slot, message, error.sqlstate()});
    DeadLetter letter{topic_name(env.topic), env.partition, env.offset,
                      env.key.empty() ? std::nullopt : std::optional<std::string_view>(env.key),
                      std::string_view(env.payload), RejectReason::kDatabaseRejected, message,
                      std::string_view(error.sqlstate())};
    rejected_.emplace_back();
    encode_dead_letter(letter, cfg_.dead_letter_payload_max_bytes, rejected_.back());
    ++out.dead_letters;
    ++out.by_reason[static_cast<std::size_t>(RejectReason::kDatabaseRejected)];
  }

  awaitable<void> commit_batch(std::size_t n) {
    auto& ring = w_.ring_;
    partitions_.clear();
    rejected_.clear();
    rejected_meta_.clear();
    pending_error_.reset();
    for (std::size_t i = 0; i < n; ++i) partition_of(ring.consumer_peek(i));

    co_await lock_offsets();
    // next_offset only ever moves forward (it is locked and raised in the batch transaction).
    // Below what this writer itself committed, PostgreSQL has lost committed batches (a failover
    // to an asynchronous standby, a restore, synchronous_commit=off and a crash); our consumer is
    // already past those messages, so writing on would store offsets over a gap. Stop instead: a
    // restart resumes from the offsets that survived and reads them again.
    for (const PartitionState& p : partitions_) {
      const auto it = committed_.find({p.topic, p.partition});
      if (it != committed_.end() && p.stored < it->second) {
        throw std::runtime_error("ingest_offsets for " + topic_name(p.topic) + " partition " +
                                 std::to_string(p.partition) + " went back from " + std::to_string(it->second) +
                                 " to " + std::to_string(p.stored) +
                                 ": PostgreSQL lost committed batches; restart to consume them again");
      }
    }

    // Decide which slots this transaction writes: only offsets at or past what is stored (and
    // each offset once, should a re-assignment have queued a partition's messages twice).
    BatchOutcome out;
    predictions_.clear();
    labels_.clear();
    letters_.clear();
    ids_.reset(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Envelope& env = ring.consumer_peek(i);
      PartitionState& p = partition_of(env);
      if (env.offset < p.threshold) {
        ++out.stale;
        continue;
      }
      p.threshold = env.offset + 1;
      switch (env.kind) {
        case EnvelopeKind::kPrediction:
          if (ids_.insert(tuple_prediction_id(env.tuple))) {
            predictions_.push_back(static_cast<std::uint32_t>(i));
          } else {
            ++out.prediction_duplicates;
          }
          break;
        case EnvelopeKind::kLabel:
          labels_.push_back(static_cast<std::uint32_t>(i));
          break;
        case EnvelopeKind::kDeadLetter:
          letters_.push_back(static_cast<std::uint32_t>(i));
          ++out.dead_letters;
          ++out.by_reason[static_cast<std::size_t>(env.reason)];
          break;
      }
    }

    if (!predictions_.empty()) co_await write_predictions(out);
    if (!predictions_.empty()) {
      co_await conn_.exec(std::string(kLabelRendezvousLock));
    } else if (!labels_.empty()) {
      co_await conn_.exec(std::string(kLabelRendezvousShared));
    }
    if (!labels_.empty()) co_await insert_staged(labels_, 0, labels_.size(), true, out);
    if (!letters_.empty() || !rejected_.empty()) co_await write_dead_letters();
    if (out.predictions > 0) co_await release_pending(out);

    std::string finish;
    const std::string advanced = partition_tuples(true);
    if (!advanced.empty()) {
      finish = "UPDATE ingest_offsets o SET next_offset = v.n, updated_at = now() FROM (VALUES " + advanced +
               ") AS v(t, p, n) WHERE o.consumer_group = " + conn_.escape_literal(cfg_.group) +
               " AND o.topic = v.t AND o.kafka_partition = v.p; ";
    }
    finish += "COMMIT";
    std::vector<pg::PgResult> r = co_await conn_.exec(finish);
    if (std::string_view(PQcmdStatus(r.back().get())) != "COMMIT") {
      throw PgError("the batch transaction was rolled back by the server", "40000");
    }

    for (const PartitionState& p : partitions_) {
      if (p.threshold > p.stored) {
        w_.ledger_.record(p.topic, p.partition, p.threshold);
        committed_[{p.topic, p.partition}] = p.threshold;
      }
    }
    publish(out);
    if (w_.dead_letter_topic_ != nullptr) mirror_dead_letters();
  }

  awaitable<void> write_predictions(BatchOutcome& out) {
    // Fast path: COPY straight into prediction_logs. Only a batch that hits an already stored
    // prediction_id (a replay, a producer retry) or a row the server refuses takes the staging
    // path — measured in docs/benchmarks.md.
    auto& ring = w_.ring_;
    chunks_.clear();
    chunks_.push_back(pg::kCopyHeader);
    for (std::uint32_t i : predictions_) chunks_.push_back(ring.consumer_peek(i).tuple);
    chunks_.push_back(pg::kCopyTrailer);
    bool fallback = false;
    try {
      co_await conn_.exec("SAVEPOINT fast");
      const std::uint64_t copied = co_await conn_.copy_in(
          "COPY prediction_logs (" + std::string(kPredictionColumns) + ") FROM STDIN (FORMAT binary)", chunks_);
      co_await conn_.exec("RELEASE SAVEPOINT fast");
      out.predictions += copied;
    } catch (const PgError& e) {
      if (e.is_retryable()) throw;
      fallback = true;
    }
    if (fallback) {
      co_await conn_.exec("ROLLBACK TO SAVEPOINT fast; RELEASE SAVEPOINT fast");
      co_await insert_staged(predictions_, 0, predictions_.size(), false, out);
    }
  }

  // Labels parked earlier may be waiting for the predictions just written.
  awaitable<void> release_pending(BatchOutcome& out) {
    std::vector<pg::PgResult> any = co_await conn_.exec("SELECT EXISTS (SELECT 1 FROM label_pending)");
    if (std::string_view(PQgetvalue(any.front().get(), 0, 0)) != "t") co_return;
    id_array_.assign("{");
    for (std::uint32_t i : predictions_) append_array_element(id_array_, tuple_prediction_id(w_.ring_.consumer_peek(i).tuple));
    id_array_ += '}';
    bool refused = false;
    try {
      co_await conn_.exec("SAVEPOINT release");
      const std::vector<std::string> params{id_array_};  // not a braced list inside co_await: GCC 12 miscompiles it
      std::vector<pg::PgResult> r = co_await conn_.exec_params(release_pending_sql(), params);
      out.labels_released += pg::affected_rows(r.front().get());
      co_await conn_.exec("RELEASE SAVEPOINT release");
    } catch (const PgError& e) {
      if (e.is_retryable()) throw;
      // A rule on label_store the labels break: they stay in label_pending, visible to
      // operators, and the batch commits.
      log_warn(std::string("moving pending labels refused by PostgreSQL, they stay pending: ") + e.what());
      refused = true;
    }
    if (refused) co_await conn_.exec("ROLLBACK TO SAVEPOINT release; RELEASE SAVEPOINT release");
  }

  awaitable<void> write_dead_letters() {
    chunks_.clear();
    chunks_.push_back(pg::kCopyHeader);
    for (std::uint32_t i : letters_) chunks_.push_back(w_.ring_.consumer_peek(i).tuple);
    for (const std::string& t : rejected_) chunks_.push_back(t);
    chunks_.push_back(pg::kCopyTrailer);
    co_await conn_.copy_in("COPY ingest_dead_letters (" + std::string(kDeadLetterColumns) +
                               ") FROM STDIN (FORMAT binary)", chunks_);
  }

  // After COMMIT: the table is the record, the topic a mirror (see DeadLetterPublisher).
  void mirror_dead_letters() {
    auto as_optional = [](const std::string& s) {
      return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
    };
    for (std::uint32_t i : letters_) {
      const Envelope& env = w_.ring_.consumer_peek(i);
      const std::optional<std::string_view> payload =
          env.reason == RejectReason::kTombstone ? std::nullopt : std::optional<std::string_view>(env.payload);
      w_.dead_letter_topic_->publish(topic_name(env.topic), env.partition, env.offset, as_optional(env.key), payload,
                                     reason_code(env.reason), env.reason_text, "");
    }
    for (const RejectedRow& r : rejected_meta_) {
      const Envelope& env = w_.ring_.consumer_peek(r.slot);
      w_.dead_letter_topic_->publish(topic_name(env.topic), env.partition, env.offset, as_optional(env.key),
                                     std::string_view(env.payload), reason_code(RejectReason::kDatabaseRejected),
                                     r.message, r.sqlstate);
    }
  }

  void publish(const BatchOutcome& out) {
    IngestStats& s = w_.stats_;
    s.predictions_inserted += out.predictions;
    s.prediction_duplicates += out.prediction_duplicates;
    s.labels_inserted += out.labels;
    s.labels_pended += out.labels_pended;
    s.labels_released += out.labels_released;
    s.label_duplicates += out.label_duplicates;
    s.stale_skipped += out.stale;
    s.dead_letters += out.dead_letters;
    for (std::size_t i = 0; i < out.by_reason.size(); ++i) s.dead_letters_by_reason[i] += out.by_reason[i];
    ++s.batches_committed;
    s.last_commit_ns = monotonic_ns();
  }

  BatchWriter& w_;
  const Config& cfg_;
  asio::io_context io_;
  pg::PgConnection conn_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
  bool ever_connected_ = false;
  bool waiting_for_pg_ = false;
  bool main_done_ = false;  // main_loop() has finished (abort_watch() then ends too)
  Clock::time_point last_sweep_{};
  // Per-batch scratch, reused across batches.
  std::vector<PartitionState> partitions_;
  std::vector<std::uint32_t> predictions_, labels_, letters_;
  std::vector<std::string> rejected_;  // dead-letter tuples of rows PostgreSQL refused
  struct RejectedRow {
    std::uint32_t slot;
    std::string message;
    std::string sqlstate;
  };
  std::vector<RejectedRow> rejected_meta_;
  std::vector<std::string_view> chunks_;
  std::string stage_buf_;
  std::string id_array_;
  BatchIdSet ids_;
  std::map<std::pair<TopicKind, std::int32_t>, std::int64_t> committed_;  // next_offset this writer stored
  std::optional<PgError> pending_error_;
};

BatchWriter::BatchWriter(int id, const Config& config, IngestStats& stats, OffsetLedger& ledger,
                         kafka::DeadLetterPublisher* dead_letter_topic)
    : id_(id),
      config_(config),
      stats_(stats),
      ledger_(ledger),
      dead_letter_topic_(dead_letter_topic),
      ring_(config.ring_capacity) {}

BatchWriter::~BatchWriter() {
  abort();
  join();
}

void BatchWriter::start() {
  thread_ = std::thread([this] {
    try {
      Session session(*this);
      session.run();
    } catch (const std::exception& e) {
      log_error("writer " + std::to_string(id_) + " failed: " + e.what());
      failed_ = true;
    }
    finished_ = true;
  });
}

void BatchWriter::request_stop(std::chrono::steady_clock::time_point deadline) {
  stop_deadline_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  stop_requested_ = true;
}

void BatchWriter::abort() noexcept { abort_requested_ = true; }

void BatchWriter::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace mlops_ingest
