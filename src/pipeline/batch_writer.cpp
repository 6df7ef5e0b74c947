#include "mlops_ingest/pipeline/batch_writer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <span>
#include <random>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "../pg/ingest_sql.hpp"
#include "mlops_ingest/kafka/dead_letter_publisher.hpp"
#include "mlops_ingest/log.hpp"
#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/pipeline/batch_plan.hpp"
#include "mlops_ingest/pipeline/row_encoder.hpp"

namespace mlops_ingest {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using pg::ElementType;
using pg::PgError;

namespace {

constexpr ElementType kPredictionTypes[] = {
    ElementType::kText,   ElementType::kTimestamp, ElementType::kText,   ElementType::kText,
    ElementType::kInt4,   ElementType::kFloat8,    ElementType::kInt4,   ElementType::kFloat8,
    ElementType::kFloat8, ElementType::kInt4,      ElementType::kText,   ElementType::kInt4};
constexpr ElementType kLabelTypes[] = {ElementType::kText, ElementType::kInt4, ElementType::kTimestamp,
                                       ElementType::kText, ElementType::kInt4};
constexpr ElementType kIdTypes[] = {ElementType::kText};

struct PartitionState {
  TopicKind topic;
  std::int32_t partition;
  std::int64_t stored = -1;     // next_offset in ingest_offsets when the batch locked it
  std::int64_t threshold = -1;  // first offset this batch may still write
};

// What a committed batch changed; added to the shared stats only after COMMIT succeeds.
struct BatchOutcome {
  std::uint64_t predictions = 0, prediction_duplicates = 0;
  std::uint64_t labels = 0, labels_paired = 0, labels_pended = 0, labels_released = 0, label_duplicates = 0;
  std::uint64_t stale = 0, dead_letters = 0;
  std::array<std::uint64_t, kRejectReasonCount> by_reason{};
};

}  // namespace

class BatchWriter::Session {
 public:
  explicit Session(BatchWriter& owner)
      : w_(owner),
        cfg_(owner.config_),
        conn_(io_, owner.config_.pg, owner.config_.pg_io_timeout),
        rng_(std::random_device{}() + static_cast<unsigned>(owner.id_)),
        signal_fd_(io_, ::dup(owner.signal_.fd())),
        wait_timer_(io_) {}

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

  Heartbeat& heartbeat() { return w_.stats_.writer_heartbeats[static_cast<std::size_t>(w_.id_)]; }

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
      heartbeat().beat();
      co_await sleep_for(std::min<std::chrono::nanoseconds>(until - Clock::now(), std::chrono::milliseconds(50)));
    }
  }

  // Past the shutdown deadline (or on abort()), a request PostgreSQL does not answer — a frozen
  // or unreachable server — is given up at once rather than after pg_io_timeout_ms, so that
  // shutdown_timeout_ms holds whatever PostgreSQL does. Giving up loses nothing: the batch's
  // offsets are not stored either, and it is consumed again after a restart.
  awaitable<void> abort_watch() {
    while (!main_done_) {
      // Finely once a stop is requested (its deadline is what this watches), coarsely before,
      // so that an idle writer does not wake twenty times a second for nothing.
      const bool stopping = w_.stop_requested_.load() || w_.abort_requested_.load();
      co_await sleep_for(stopping ? std::chrono::milliseconds(50) : std::chrono::milliseconds(500));
      if (should_abort()) {
        conn_.cancel();
        w_.signal_.wake();
      }
    }
  }

  awaitable<void> main_loop() {
    auto& ring = w_.ring_;
    while (!should_abort()) {
      const std::size_t n = co_await gather();
      if (n == 0) {
        if (w_.stop_requested_.load() && ring.consumer_refresh() == 0) break;
        if (!deferred_release_.empty()) {
          co_await run_outside_batch(&Session::release_deferred);
        } else if (Clock::now() - last_sweep_ >= cfg_.pending_sweep_interval) {
          last_sweep_ = Clock::now();
          co_await run_outside_batch(&Session::sweep_pending);
        }
        continue;
      }
      if (!co_await commit_with_retries(n)) break;  // aborted: leave the batch uncommitted
      ring.consumer_release(n);
    }
    // The check after the last commit (see release_deferred); if it cannot run now, the next
    // sweep of any writer moves those labels.
    if (!deferred_release_.empty() && !should_abort()) co_await run_outside_batch(&Session::release_deferred);
    conn_.close();
    w_.finished_ = true;
  }

  // Smart batching: a writer with nothing in flight takes whatever its ring holds at once (up
  // to batch_rows / batch_bytes), so latency follows the load: under load rows pile up while
  // the previous batch commits and the next batch is bigger by itself. batch_linger_ms > 0
  // adds a wait for fuller batches. Returns how many slots from the head form the batch (0:
  // nothing to write now; the caller looks after pending labels).
  awaitable<std::size_t> gather() {
    auto& ring = w_.ring_;
    std::size_t counted = 0, bytes = 0;
    Clock::time_point first_seen{};
    for (;;) {
      heartbeat().beat();  // an idle writer wakes at least every pending_sweep_interval_ms
      const std::size_t available = ring.consumer_refresh();
      while (counted < available && counted < cfg_.batch_rows && bytes < cfg_.batch_bytes) {
        bytes += ring.consumer_peek(counted).tuple.size();
        ++counted;
      }
      if (counted >= cfg_.batch_rows || bytes >= cfg_.batch_bytes) co_return counted;
      const auto now = Clock::now();
      if (counted > 0 && first_seen == Clock::time_point{}) first_seen = now;
      if (w_.stop_requested_.load() || should_abort()) co_return counted;
      if (counted > 0 && now - first_seen >= cfg_.batch_linger) co_return counted;
      if (counted == 0 && (!deferred_release_.empty() || now - last_sweep_ >= cfg_.pending_sweep_interval)) {
        co_return 0;
      }
      const Clock::time_point until =
          counted > 0 ? first_seen + cfg_.batch_linger : last_sweep_ + cfg_.pending_sweep_interval;
      co_await wait_for_rows(until - now);
    }
  }

  // Sleeps until the consumer publishes rows (RingSignal), a stop or abort request, or timeout.
  awaitable<void> wait_for_rows(Clock::duration timeout) {
    w_.signal_.prepare_sleep();
    if (w_.ring_.consumer_refresh() > 0 || w_.stop_requested_.load() || should_abort()) {
      w_.signal_.cancel_sleep();
      co_return;
    }
    wait_timer_.expires_after(timeout);
    wait_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) signal_fd_.cancel();
    });
    boost::system::error_code ec;
    co_await signal_fd_.async_wait(asio::posix::stream_descriptor::wait_read, asio::redirect_error(use_awaitable, ec));
    wait_timer_.cancel();
    w_.signal_.cancel_sleep();
    w_.signal_.drain();
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
        const std::int64_t took = monotonic_ns() - started;
        w_.stats_.writer_commit_ns += static_cast<std::uint64_t>(took);
        w_.stats_.batch_commit_seconds.observe(std::chrono::nanoseconds(took));
        heartbeat().beat();
        leave_outage();
        co_return true;
      } catch (const PgError& e) {
        // Rejections of single rows are handled inside commit_batch; whatever arrives here is an
        // outage or a problem an operator must fix. The batch stays in the ring and is retried.
        enter_outage(e);
        conn_.close();
      }
      heartbeat().beat();
      co_await backoff_for(next_backoff());
    }
  }

  // Pending-label work between batches, in its own (single-statement) transaction. An outage
  // is noted and left to the next attempt; a refusal (a rule on label_store) leaves the labels
  // in label_pending, visible to operators.
  awaitable<void> run_outside_batch(awaitable<void> (Session::*work)()) {
    try {
      co_await ensure_connected();
      co_await (this->*work)();
      leave_outage();
    } catch (const PgError& e) {
      if (e.is_retryable()) {
        enter_outage(e);
        conn_.close();
      } else {
        log_warn("moving pending labels refused by PostgreSQL, they stay pending: " + std::string(e.what()));
        deferred_release_.clear();
      }
    }
  }

  // Books a move out of label_pending (see pg::sql::release_pending) into `out`.
  static void count_moved(const pg::PgResult& r, BatchOutcome& out) {
    const std::uint64_t moved = std::stoull(PQgetvalue(r.get(), 0, 0));
    const std::uint64_t stored = std::stoull(PQgetvalue(r.get(), 0, 1));
    out.labels_released += stored;
    out.label_duplicates += moved - stored;
  }

  awaitable<void> sweep_pending() {
    std::vector<pg::PgResult> results = co_await conn_.exec(pg::sql::sweep_pending());
    BatchOutcome out;
    count_moved(results.back(), out);
    publish_moves(out);
  }

  void publish_moves(const BatchOutcome& out) {
    w_.stats_.labels_released += out.labels_released;
    w_.stats_.label_duplicates += out.label_duplicates;
  }

  // Labels meet their predictions without a lock: a batch that stores predictions and a batch
  // (of any writer or instance) that parks their labels can each miss the other, since neither
  // sees the other's uncommitted rows. So both check again AFTER their own commit — in the next
  // transaction of the same writer, or on their own when the writer goes idle: whichever of the
  // two commits later then sees the other's rows and moves the label. A label parked by a batch
  // that never gets its check (a crash) is moved by a later sweep.
  awaitable<void> release_deferred() {
    const std::vector<pg::BinaryParam>& params = deferred_release_.params();
    std::vector<pg::PgResult> r = co_await conn_.exec_binary(pg::sql::release_pending(), params);
    BatchOutcome out;
    count_moved(r.front(), out);
    publish_moves(out);
    deferred_release_.clear();
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
  // SET LOCAL: the setting ends with the transaction (pooler-safe).
  awaitable<void> lock_offsets() {
    const std::string group = conn_.escape_literal(cfg_.group);
    std::string sql = "BEGIN; SET LOCAL synchronous_commit = " + cfg_.pg_synchronous_commit +
                      "; INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) "
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

  // Runs one statement over slots [lo, hi) sent as array parameters, under a savepoint; on a
  // data error bisects down to the rows PostgreSQL refuses and dead-letters exactly those.
  // on_result(results, lo, hi) books what a successful statement did.
  template <typename OnResult>
  awaitable<void> insert_arrays(const std::string& sql, std::span<const ElementType> types,
                                const std::vector<std::uint32_t>& seqs, std::size_t lo, std::size_t hi,
                                BatchOutcome& out, OnResult on_result) {
    if (lo >= hi) co_return;
    arrays_.reset(types);
    for (std::size_t k = lo; k < hi; ++k) arrays_.add_tuple(w_.ring_.consumer_peek(seqs[k]).tuple);
    try {
      co_await conn_.exec("SAVEPOINT rows");
      std::vector<pg::PgResult> r = co_await conn_.exec_binary(sql, arrays_.params());
      co_await conn_.exec("RELEASE SAVEPOINT rows");
      on_result(r, lo, hi);
    } catch (const PgError& e) {
      if (e.is_retryable()) throw;
      pending_error_ = e;  // handled below: co_await is not allowed inside a handler
    }
    if (pending_error_) {
      const PgError error = *std::exchange(pending_error_, std::nullopt);
      co_await conn_.exec("ROLLBACK TO SAVEPOINT rows; RELEASE SAVEPOINT rows");
      if (hi - lo == 1) {
        reject_row(seqs[lo], error, out);
      } else {
        const std::size_t mid = lo + (hi - lo) / 2;
        co_await insert_arrays(sql, types, seqs, lo, mid, out, on_result);
        co_await insert_arrays(sql, types, seqs, mid, hi, out, on_result);
      }
    }
  }

  awaitable<void> insert_predictions_staged(BatchOutcome& out) {
    co_await insert_arrays(pg::sql::insert_predictions_skip_duplicates(), kPredictionTypes, plan().predictions, 0,
                           plan().predictions.size(), out,
                           [&out](const std::vector<pg::PgResult>& r, std::size_t lo, std::size_t hi) {
                             const std::uint64_t inserted = pg::affected_rows(r.front().get());
                             out.predictions += inserted;
                             out.prediction_duplicates += (hi - lo) - inserted;
                           });
  }

  awaitable<void> split_labels(BatchOutcome& out) {
    co_await insert_arrays(pg::sql::split_labels(), kLabelTypes, plan().labels, 0, plan().labels.size(), out,
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

  [[nodiscard]] const BatchPlan& plan() const noexcept { return planner_.current(); }

  awaitable<void> commit_batch(std::size_t n) {
    auto& ring = w_.ring_;
    partitions_.clear();
    rejected_.clear();
    rejected_meta_.clear();
    parked_ids_.clear();
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

    // Decide which slots this transaction writes, and how (see batch_plan.hpp).
    const BatchPlan& planned = planner_.plan(
        n, [&ring](std::size_t i) -> const Envelope& { return ring.consumer_peek(i); },
        [this](const Envelope& env) -> std::int64_t& { return partition_of(env).threshold; });
    BatchOutcome out;
    out.stale = planned.stale;
    out.prediction_duplicates = planned.prediction_duplicates;
    out.label_duplicates = planned.label_duplicates;
    out.dead_letters = planned.letters.size();
    out.by_reason = planned.letters_by_reason;

    // Tables in the order `schema apply` locks them (prediction_logs, then label_store, then the
    // ingester's own): an instance applying the schema while this one writes takes a SHARE lock
    // on each table for its CREATE INDEX IF NOT EXISTS, and the opposite order deadlocks
    // (FaultRebalance found it: label_store first, for the check below, then prediction_logs).
    if (!plan().predictions.empty()) co_await write_predictions(out);
    // The previous batch's check after commit (release_deferred), inside this transaction.
    if (!deferred_release_.empty()) {
      std::vector<pg::PgResult> r = co_await conn_.exec_binary(pg::sql::release_pending(), deferred_release_.params());
      count_moved(r.front(), out);
    }
    if (!plan().paired_labels.empty()) co_await write_paired_labels(out);
    if (!plan().labels.empty()) co_await split_labels(out);
    if (!plan().letters.empty() || !rejected_.empty()) co_await write_dead_letters();

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
    defer_release_check();
    record_event_to_commit(n);
    publish(out);
    if (w_.dead_letter_topic_ != nullptr) mirror_dead_letters();
  }

  // Kafka message timestamp → this COMMIT, for every message of the batch (one clock read).
  void record_event_to_commit(std::size_t n) {
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    latency_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      latency_.observe(std::chrono::milliseconds(now_ms - w_.ring_.consumer_peek(i).kafka_ts_ms));
    }
    w_.stats_.event_to_commit_seconds.merge(latency_);
  }

  // After COMMIT, before the slots are released: the ids whose pending labels must be checked
  // again in the next transaction (release_deferred) — the predictions just stored and the
  // labels just parked.
  void defer_release_check() {
    deferred_release_.clear();
    if (plan().predictions.empty() && parked_ids_.empty()) return;
    deferred_release_.reset(kIdTypes);
    for (std::uint32_t i : plan().predictions) {
      deferred_release_.add_element(tuple_prediction_id(w_.ring_.consumer_peek(i).tuple));
    }
    for (const std::string& id : parked_ids_) deferred_release_.add_element(id);
  }

  awaitable<void> write_predictions(BatchOutcome& out) {
    // Fast path: COPY straight into prediction_logs. Only a batch that hits an already stored
    // prediction_id (a replay, a producer retry) or a row the server refuses takes the staging
    // path — measured in docs/benchmarks.md.
    auto& ring = w_.ring_;
    chunks_.clear();
    chunks_.push_back(pg::kCopyHeader);
    for (std::uint32_t i : plan().predictions) chunks_.push_back(ring.consumer_peek(i).tuple);
    chunks_.push_back(pg::kCopyTrailer);
    bool fallback = false;
    try {
      co_await conn_.exec("SAVEPOINT fast");
      out.predictions += co_await conn_.copy_in(pg::sql::copy_predictions(), chunks_);
      co_await conn_.exec("RELEASE SAVEPOINT fast");
    } catch (const PgError& e) {
      if (e.is_retryable()) throw;
      fallback = true;
    }
    if (fallback) {
      co_await conn_.exec("ROLLBACK TO SAVEPOINT fast; RELEASE SAVEPOINT fast");
      // Paired labels assumed every prediction of the batch new, with the created_at sent.
      planner_.unpair();
      co_await insert_predictions_staged(out);
    }
  }

  // Labels whose prediction this transaction just stored: straight into label_store with COPY
  // (days_delayed computed here), no join and no label_pending. One already stored (a replay)
  // or refused makes PostgreSQL decide them with the other labels instead.
  awaitable<void> write_paired_labels(BatchOutcome& out) {
    auto& ring = w_.ring_;
    paired_buf_.assign(pg::kCopyHeader);
    const BatchPlan& p = plan();
    for (std::size_t k = 0; k < p.paired_labels.size(); ++k) {
      append_paired_label(ring.consumer_peek(p.paired_labels[k]).tuple, ring.consumer_peek(p.paired_with[k]).tuple,
                          paired_buf_);
    }
    paired_buf_.append(pg::kCopyTrailer);
    chunks_.clear();
    chunks_.push_back(paired_buf_);
    bool fallback = false;
    try {
      co_await conn_.exec("SAVEPOINT paired");
      const std::uint64_t copied = co_await conn_.copy_in(pg::sql::copy_label_store(), chunks_);
      co_await conn_.exec("RELEASE SAVEPOINT paired");
      out.labels += copied;
      out.labels_paired += copied;
    } catch (const PgError& e) {
      if (e.is_retryable()) throw;
      fallback = true;
    }
    if (fallback) {
      co_await conn_.exec("ROLLBACK TO SAVEPOINT paired; RELEASE SAVEPOINT paired");
      planner_.unpair();
    }
  }

  awaitable<void> write_dead_letters() {
    chunks_.clear();
    chunks_.push_back(pg::kCopyHeader);
    for (std::uint32_t i : plan().letters) chunks_.push_back(w_.ring_.consumer_peek(i).tuple);
    for (const std::string& t : rejected_) chunks_.push_back(t);
    chunks_.push_back(pg::kCopyTrailer);
    co_await conn_.copy_in(pg::sql::copy_dead_letters(), chunks_);
  }

  // After COMMIT: the table is the record, the topic a mirror (see DeadLetterPublisher).
  void mirror_dead_letters() {
    auto as_optional = [](const std::string& s) {
      return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
    };
    for (std::uint32_t i : plan().letters) {
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
    s.labels_paired += out.labels_paired;
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
  asio::posix::stream_descriptor signal_fd_;  // a dup of the RingSignal's eventfd
  asio::steady_timer wait_timer_;
  int attempt_ = 0;
  bool ever_connected_ = false;
  bool waiting_for_pg_ = false;
  bool main_done_ = false;  // main_loop() has finished (abort_watch() then ends too)
  Clock::time_point last_sweep_{};
  // Per-batch scratch, reused across batches.
  BatchPlanner planner_;
  std::vector<PartitionState> partitions_;
  std::vector<std::string> rejected_;  // dead-letter tuples of rows PostgreSQL refused
  struct RejectedRow {
    std::uint32_t slot;
    std::string message;
    std::string sqlstate;
  };
  std::vector<RejectedRow> rejected_meta_;
  std::vector<std::string_view> chunks_;
  std::string paired_buf_;
  LatencyBatch latency_;
  pg::ArrayParams arrays_;
  std::vector<std::string> parked_ids_;  // labels this batch parked in label_pending
  // Ids whose pending labels the next transaction checks again; survives retries of that
  // transaction until one commits.
  class DeferredIds : public pg::ArrayParams {
   public:
    [[nodiscard]] bool empty() const noexcept { return rows() == 0; }
    void clear() { reset(kIdTypes); }
  } deferred_release_;
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
    // Named for top -H, perf and gdb: "writer-0", "writer-1", ...
    pthread_setname_np(pthread_self(), ("writer-" + std::to_string(id_)).c_str());
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
  signal_.wake();
}

void BatchWriter::abort() noexcept {
  abort_requested_ = true;
  signal_.wake();
}

void BatchWriter::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace mlops_ingest
