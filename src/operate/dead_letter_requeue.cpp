// `dead-letters requeue`: each letter runs through what a Kafka message runs through — the
// consumer's EnvelopeBuilder (the same parser and encoder) into a ring slot, the writer's batch
// plan and its write modes (src/write/) — in a transaction of its own that also deletes the
// letter when its row is stored, or records the new failure when it is refused again. The
// letter's row lock (FOR UPDATE) is taken first, so two runs never store one letter twice, and a
// run killed anywhere leaves each letter either stored and deleted or untouched.
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <limits>

#include "../consume/envelope_builder.hpp"
#include "../write/kind_writes.hpp"
#include "../write/label_writes.hpp"
#include "../write/prediction_writes.hpp"
#include "mlops_ingest/handoff/spsc_ring.hpp"
#include "mlops_ingest/operate/dead_letters.hpp"

namespace mlops_ingest::operate {
namespace {

using boost::asio::awaitable;

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoul(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

constexpr const char* kLockLetter =
    "SELECT encode(message_key, 'hex'), message_key IS NULL, encode(payload, 'hex') FROM ingest_dead_letters "
    "WHERE id = $1 FOR UPDATE";
constexpr const char* kDeleteLetter = "DELETE FROM ingest_dead_letters WHERE id = $1";
constexpr const char* kRecordFailure =
    "UPDATE ingest_dead_letters SET reason_code = $2, reason = $3, sqlstate = NULLIF($4, ''), "
    "attempts = attempts + 1, last_attempt_at = now() WHERE id = $1";

// Why a letter cannot be re-driven at all ("" if it can).
std::string why_left(const Config& cfg, const DeadLetterRow& l) {
  if (!cfg.kind_of_topic(l.topic)) {
    std::string topics;
    for (const std::string& t : cfg.topics()) topics += (topics.empty() ? "" : ", ") + t;
    return "topic '" + l.topic + "' is not the topic of any configured event kind (" + topics +
           "): set its *_topic setting to requeue it";
  }
  if (l.tombstone) return "a tombstone (no payload) has nothing to requeue";
  if (l.truncated()) {
    return "its payload was truncated to " + std::to_string(l.kept_bytes) + " of " + std::to_string(l.payload_bytes) +
           " bytes (dead_letter_payload_max_bytes): the event cannot be requeued";
  }
  return "";
}

class Requeuer {
 public:
  Requeuer(const Config& cfg, pg::PgConnection& conn, bool dry_run)
      : cfg_(cfg), conn_(conn), dry_run_(dry_run), builder_(cfg), ctx_(conn, ring_, cfg, planner_) {}

  awaitable<RequeueItem> one(const DeadLetterRow& letter) {
    RequeueItem item{letter, RequeueOutcome::kLeft, why_left(cfg_, letter)};
    if (!item.detail.empty()) co_return item;
    const std::string begin = "BEGIN", rollback = "ROLLBACK", commit = "COMMIT";
    co_await conn_.exec(begin);
    try {
      co_await locked(item);
      const bool undo = dry_run_ || item.outcome == RequeueOutcome::kGone;
      co_await conn_.exec(undo ? rollback : commit);
    } catch (...) {
      // The connection is dropped by the caller on an outage; a refusal outside the savepoints
      // (the table itself is wrong) ends the run, with this transaction rolled back.
      release();
      throw;
    }
    if (!dry_run_ && labels_.has_deferred()) co_await labels_.release_deferred(conn_);
    release();
    co_return item;
  }

 private:
  awaitable<void> locked(RequeueItem& item) {
    const std::string id = std::to_string(item.letter.id);
    // Statements and parameters named: GCC 12 miscompiles an initializer list or a literal's
    // temporary in a co_await operand.
    const std::string lock_sql = kLockLetter;
    const std::vector<std::string> params{id};
    const std::vector<pg::PgResult> r = co_await conn_.exec_params(lock_sql, params);
    const PGresult* row = r.back().get();
    if (PQntuples(row) == 0) {
      item.outcome = RequeueOutcome::kGone;
      item.detail = "no longer in ingest_dead_letters (requeued or pruned since it was selected)";
      co_return;
    }
    const std::string key = from_hex(PQgetvalue(row, 0, 0));
    const bool no_key = std::string_view(PQgetvalue(row, 0, 1)) == "t";
    const std::string payload = from_hex(PQgetvalue(row, 0, 2));
    const TopicKind topic = *cfg_.kind_of_topic(item.letter.topic);
    // The Kafka timestamp is not kept: the letter's time stands in for it (a field that
    // defaults to it, such as created_at, gets when the event was dead-lettered).
    Envelope& env = *ring_.producer_slot();
    builder_.fill(env, topic, item.letter.partition, item.letter.offset, payload.data(), payload.size(),
                  no_key ? std::nullopt : std::optional<std::string_view>(key), item.letter.dead_lettered_unix_ms);
    ring_.producer_commit();
    filled_ = ring_.consumer_refresh();
    std::int64_t first_writable = std::numeric_limits<std::int64_t>::min();  // no offset fencing here
    planner_.plan(
        filled_, [this](std::size_t i) -> const Envelope& { return ring_.consumer_peek(i); },
        [&first_writable](const Envelope&) -> std::int64_t& { return first_writable; });
    if (!planner_.current().letters.empty()) {
      const Envelope& rejected = ring_.consumer_peek(0);
      const std::string code(reason_code(rejected.reason)), no_sqlstate;
      co_await record_failure(item, code, rejected.reason_text, no_sqlstate);
      co_return;
    }
    BatchOutcome out;
    dead_.clear();
    labels_.start_batch();
    co_await write(out);
    if (!dead_.refused().empty()) {
      const DeadLetters::RejectedRow& refused = dead_.refused().front();
      const std::string code(reason_code(RejectReason::kDatabaseRejected));
      co_await record_failure(item, code, refused.message, refused.sqlstate);
      co_return;
    }
    const std::string delete_sql = kDeleteLetter;
    co_await conn_.exec_params(delete_sql, params);
    labels_.after_commit(ctx_);
    describe_stored(item, out, topic);
  }

  awaitable<void> write(BatchOutcome& out) {
    // The writers' order of tables (BatchTransaction::write_rows).
    if (!planner_.current().predictions.empty()) {
      co_await conn_.exec(kPredictionsSavepoint.open_sql());
      ctx_.predictions_copy_open = false;
      co_await write_predictions(ctx_, dead_, out);
    }
    if (!planner_.current().labels.empty()) co_await labels_.write_split(ctx_, dead_, out);
    co_await write_kind_rows(ctx_, dead_, out);
  }

  awaitable<void> record_failure(RequeueItem& item, const std::string& code, const std::string& message,
                                 const std::string& sqlstate) {
    const std::string sql = kRecordFailure;
    const std::vector<std::string> params{std::to_string(item.letter.id), code, message, sqlstate};
    co_await conn_.exec_params(sql, params);
    item.outcome = RequeueOutcome::kFailedAgain;
    item.detail = code + (sqlstate.empty() ? "" : " (" + sqlstate + ")") + ": " + message;
  }

  static void describe_stored(RequeueItem& item, const BatchOutcome& out, TopicKind topic) {
    const std::string table(kind_spec(topic).table);
    std::uint64_t written = out.predictions + out.labels;
    for (std::uint64_t k : out.kind_written) written += k;
    if (out.labels_pended > 0) {
      item.outcome = RequeueOutcome::kParked;
      item.detail = "label_pending (its prediction is not stored yet; it moves to label_store when it is)";
    } else if (written > 0) {
      item.outcome = RequeueOutcome::kStored;
      item.detail = table;
    } else {
      item.outcome = RequeueOutcome::kAlreadyStored;
      item.detail = table + " already holds it (a duplicate)";
    }
  }

  void release() {
    if (filled_ > 0) ring_.consumer_release(filled_);
    filled_ = 0;
  }

  const Config& cfg_;
  pg::PgConnection& conn_;
  bool dry_run_;
  EnvelopeBuilder builder_;
  SpscRing<Envelope> ring_{4};
  BatchPlanner planner_;
  WriteContext ctx_;
  DeadLetters dead_;
  LabelWrites labels_{0};  // one letter at a time: nothing to pair across batches
  std::size_t filled_ = 0;
};

}  // namespace

const char* outcome_name(RequeueOutcome o) noexcept {
  switch (o) {
    case RequeueOutcome::kStored: return "stored";
    case RequeueOutcome::kAlreadyStored: return "already_stored";
    case RequeueOutcome::kParked: return "parked";
    case RequeueOutcome::kFailedAgain: return "failed_again";
    case RequeueOutcome::kLeft: return "left";
    case RequeueOutcome::kGone: return "gone";
  }
  return "?";
}

RequeueCounts requeue_dead_letters(const Config& config, const std::vector<DeadLetterRow>& letters, bool dry_run,
                                   const std::function<void(const RequeueItem&)>& on_item) {
  RequeueCounts counts;
  boost::asio::io_context io;
  pg::PgConnection conn(io, config.pg, config.pg_io_timeout, "mlops-ingest dead-letters requeue");
  auto done = boost::asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await conn.connect();
        Requeuer requeuer(config, conn, dry_run);
        for (const DeadLetterRow& letter : letters) {
          const RequeueItem item = co_await requeuer.one(letter);
          switch (item.outcome) {
            case RequeueOutcome::kStored: ++counts.stored; break;
            case RequeueOutcome::kAlreadyStored: ++counts.already_stored; break;
            case RequeueOutcome::kParked: ++counts.parked; break;
            case RequeueOutcome::kFailedAgain: ++counts.failed_again; break;
            case RequeueOutcome::kLeft: ++counts.left; break;
            case RequeueOutcome::kGone: ++counts.gone; break;
          }
          on_item(item);
        }
      },
      boost::asio::use_future);
  io.run();
  done.get();
  return counts;
}

}  // namespace mlops_ingest::operate
