#include "mlops_ingest/write/batch_writer.hpp"

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
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/write/batch_plan.hpp"
#include "offsets_store.hpp"
#include "../pg/retry_backoff.hpp"
#include "dead_letters.hpp"
#include "kind_writes.hpp"
#include "label_writes.hpp"
#include "prediction_writes.hpp"
#include "write_context.hpp"

namespace mlops_ingest {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using pg::PgError;

// The writer thread's world: its io_context, its connection, and the batch loop — gather a
// batch from the ring, commit it in one transaction (retrying outages for as long as it
// takes), publish what it changed. How each kind of row is written lives in writer/; the
// fenced offsets in offsets_store; the retry policy in retry_backoff.
class BatchWriter::Session {
 public:
  explicit Session(BatchWriter& owner)
      : w_(owner),
        cfg_(owner.config_),
        conn_(io_, owner.config_.pg, owner.config_.pg_io_timeout),
        backoff_(owner.config_.retry_backoff_initial, owner.config_.retry_backoff_max,
                 std::random_device{}() + static_cast<unsigned>(owner.id_)),
        signal_fd_(io_, ::dup(owner.lane_.signal().fd())),
        wait_timer_(io_),
        offsets_(owner.config_),
        ctx_(conn_, owner.lane_.ring(), owner.config_, planner_) {}

  void run() {
    asio::co_spawn(io_, main_loop(), [this](std::exception_ptr error) {
      main_done_ = true;
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log_error("writer " + std::to_string(w_.id_) + " stopped on an unexpected error: " + e.what());
      }
      w_.lane_.mark_failed();
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
        w_.lane_.signal().wake();
      }
    }
  }

  awaitable<void> main_loop() {
    auto& ring = w_.lane_.ring();
    while (!should_abort()) {
      const std::size_t n = co_await gather();
      if (n == 0) {
        if (w_.stop_requested_.load() && ring.consumer_refresh() == 0) break;
        if (labels_.has_deferred()) {
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
    // The check after the last commit (see LabelWrites); if it cannot run now, the next sweep
    // of any writer moves those labels.
    if (labels_.has_deferred() && !should_abort()) co_await run_outside_batch(&Session::release_deferred);
    conn_.close();
    w_.finished_ = true;
  }

  // Smart batching: a writer with nothing in flight takes whatever its ring holds at once (up
  // to batch_rows / batch_bytes), so latency follows the load: under load rows pile up while
  // the previous batch commits and the next batch is bigger by itself. batch_linger_ms > 0
  // adds a wait for fuller batches. Returns how many slots from the head form the batch (0:
  // nothing to write now; the caller looks after pending labels).
  awaitable<std::size_t> gather() {
    auto& ring = w_.lane_.ring();
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
      if (counted == 0 && (labels_.has_deferred() || now - last_sweep_ >= cfg_.pending_sweep_interval)) {
        co_return 0;
      }
      const Clock::time_point until =
          counted > 0 ? first_seen + cfg_.batch_linger : last_sweep_ + cfg_.pending_sweep_interval;
      co_await wait_for_rows(until - now);
    }
  }

  // Sleeps until the consumer publishes rows (RingSignal), a stop or abort request, or timeout.
  awaitable<void> wait_for_rows(Clock::duration timeout) {
    w_.lane_.signal().prepare_sleep();
    if (w_.lane_.ring().consumer_refresh() > 0 || w_.stop_requested_.load() || should_abort()) {
      w_.lane_.signal().cancel_sleep();
      co_return;
    }
    wait_timer_.expires_after(timeout);
    wait_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) signal_fd_.cancel();
    });
    boost::system::error_code ec;
    co_await signal_fd_.async_wait(asio::posix::stream_descriptor::wait_read, asio::redirect_error(use_awaitable, ec));
    wait_timer_.cancel();
    w_.lane_.signal().cancel_sleep();
    w_.lane_.signal().drain();
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
    backoff_.reset();
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
      co_await backoff_for(backoff_.next());
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
        labels_.drop_deferred();
      }
    }
  }

  awaitable<void> sweep_pending() { publish_moves(co_await LabelWrites::sweep_pending(conn_)); }
  awaitable<void> release_deferred() { publish_moves(co_await labels_.release_deferred(conn_)); }

  void publish_moves(const BatchOutcome& out) {
    w_.stats_.labels_released += out.labels_released;
    w_.stats_.label_duplicates += out.label_duplicates;
  }

  [[nodiscard]] const std::string& topic_name(TopicKind t) const {
    return cfg_.topic_of(t);
  }

  [[nodiscard]] const BatchPlan& plan() const noexcept { return planner_.current(); }

  awaitable<void> commit_batch(std::size_t n) {
    auto& ring = w_.lane_.ring();
    offsets_.clear();
    dead_.clear();
    labels_.start_batch();
    ctx_.predictions_copy_open = false;
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
    const std::string_view then_copy = any_prediction ? std::string_view(predictions_copy_statement()) : std::string_view{};
    const bool any_pending = co_await offsets_.begin_and_lock(conn_, ask_pending, kPredictionsSavepoint, then_copy);
    ctx_.predictions_copy_open = any_prediction;
    if (ask_pending && !any_pending) labels_.drop_deferred();
    // next_offset only ever moves forward (it is locked and raised in the batch transaction).
    // Below what this writer itself committed, PostgreSQL has lost committed batches (a failover
    // to an asynchronous standby, a restore, synchronous_commit=off and a crash); our consumer is
    // already past those messages, so writing on would store offsets over a gap. Stop instead: a
    // restart resumes from the offsets that survived and reads them again.
    for (const OffsetsStore::Partition& p : offsets_.partitions()) {
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
        [this](const Envelope& env) -> std::int64_t& { return offsets_.partition_of(env.topic, env.partition).threshold; });
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
    if (!plan().predictions.empty() || ctx_.predictions_copy_open) co_await write_predictions(ctx_, dead_, out);
    // The previous batch's check after commit (LabelWrites), inside this transaction.
    if (labels_.has_deferred()) co_await labels_.release_deferred_in_batch(conn_, out);
    if (!plan().paired_labels.empty()) co_await labels_.write_paired(ctx_, out);
    if (!plan().labels.empty()) co_await labels_.write_split(ctx_, dead_, out);
    // The kinds written by their description: model_metadata, monitoring_alerts,
    // retraining_metrics (the seed's order, after prediction_logs and label_store).
    co_await write_kind_rows(ctx_, dead_, out);
    if (dead_.any(plan())) co_await dead_.write(ctx_);
    co_await offsets_.advance_and_commit(conn_);

    for (const OffsetsStore::Partition& p : offsets_.partitions()) {
      if (p.threshold > p.stored) {
        w_.ledger_.record(p.topic, p.partition, p.threshold);
        committed_[{p.topic, p.partition}] = p.threshold;
      }
    }
    labels_.defer_release_check(ctx_);
    record_event_to_commit(n);
    publish(out);
    if (w_.dead_letter_topic_ != nullptr) dead_.mirror(ctx_, *w_.dead_letter_topic_);
  }

  // Kafka message timestamp → this COMMIT, for every message of the batch (one clock read).
  void record_event_to_commit(std::size_t n) {
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    latency_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      latency_.observe(std::chrono::milliseconds(now_ms - w_.lane_.ring().consumer_peek(i).kafka_ts_ms));
    }
    w_.stats_.event_to_commit_seconds.merge(latency_);
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

  BatchWriter& w_;
  const Config& cfg_;
  asio::io_context io_;
  pg::PgConnection conn_;
  RetryBackoff backoff_;
  asio::posix::stream_descriptor signal_fd_;  // a dup of the RingSignal's eventfd
  asio::steady_timer wait_timer_;
  bool ever_connected_ = false;
  bool waiting_for_pg_ = false;
  bool main_done_ = false;  // main_loop() has finished (abort_watch() then ends too)
  Clock::time_point last_sweep_{};
  // Per-batch state, reused across batches.
  BatchPlanner planner_;
  OffsetsStore offsets_;
  WriteContext ctx_;
  DeadLetters dead_;
  LabelWrites labels_;
  LatencyBatch latency_;
  std::map<std::pair<TopicKind, std::int32_t>, std::int64_t> committed_;  // next_offset this writer stored
};

BatchWriter::BatchWriter(int id, const Config& config, IngestStats& stats, OffsetLedger& ledger,
                         kafka::DeadLetterPublisher* dead_letter_topic)
    : id_(id),
      config_(config),
      stats_(stats),
      ledger_(ledger),
      dead_letter_topic_(dead_letter_topic),
      lane_(config.ring_capacity) {}

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
      lane_.mark_failed();
    }
    finished_ = true;
  });
}

void BatchWriter::request_stop(std::chrono::steady_clock::time_point deadline) {
  stop_deadline_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  stop_requested_ = true;
  lane_.signal().wake();
}

void BatchWriter::abort() noexcept {
  abort_requested_ = true;
  lane_.signal().wake();
}

void BatchWriter::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace mlops_ingest
