#include "mlops_ingest/operate/retention_pruner.hpp"

#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"

namespace mlops_ingest::operate {

RetentionPruner::RetentionPruner(const Config& config, IngestStats& stats)
    : cfg_(config), stats_(stats), thread_([this] { loop(); }) {}

RetentionPruner::~RetentionPruner() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_flag_ = true;
  cv_.notify_all();
  thread_.join();
}

bool RetentionPruner::wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stop_; });
}

void RetentionPruner::loop() {
  do {
    try {
      pass();
    } catch (const std::exception& e) {
      // An outage or a missing privilege (DELETE on the table) skips this pass; the next one
      // tries again. A pass cut short by the ingester stopping is not a failure.
      if (!stop_flag_.load()) log_warn(std::string("retention: pruning failed, retried in a minute: ") + e.what());
    }
  } while (wait(kInterval));
}

void RetentionPruner::pass() {
  if (cfg_.dead_letter_retention.count() > 0) {
    const std::uint64_t n = prune("ingest_dead_letters", "dead_lettered_at", cfg_.dead_letter_retention);
    if (n > 0) {
      log_info("retention: deleted " + std::to_string(n) + " dead letters older than dead_letter_retention",
               {{"rows", n}, {"table", "ingest_dead_letters"}});
    }
  }
  if (cfg_.appended_retention.count() > 0 && !stop_flag_.load()) {
    const std::uint64_t n = prune("ingest_appended", "appended_at", cfg_.appended_retention);
    if (n > 0) {
      log_info("retention: deleted " + std::to_string(n) + " ingest_appended positions older than appended_retention",
               {{"rows", n}, {"table", "ingest_appended"}});
    }
  }
}

std::uint64_t RetentionPruner::prune(const std::string& table, const char* age_column,
                                     std::chrono::seconds retention) {
  pg::BlockingConnection conn(cfg_.pg, pg::ConnectLimits{&stop_flag_});
  // A batch at a time: each DELETE is a short transaction of its own and holds its row locks
  // briefly, and the age index finds the oldest rows without a scan. Dead letters by their id,
  // not their ctid: a ctid needs SELECT on the whole table, payloads included, which the ingest
  // role is not given (docs/security.md); SELECT on (id, dead_lettered_at) is enough.
  const std::string key = table == "ingest_dead_letters" ? "id" : "ctid";
  const std::string sql = "DELETE FROM " + table + " WHERE " + key + " IN (SELECT " + key + " FROM " + table +
                          " WHERE " + age_column + " < now() - make_interval(secs => $1::bigint) LIMIT " +
                          std::to_string(kBatchRows) + ")";
  std::uint64_t total = 0;
  IngestStats::Counter& counter = table == "ingest_appended" ? stats_.appended_pruned : stats_.dead_letters_pruned;
  for (;;) {
    const pg::PgResult r = conn.exec_params(sql, {std::to_string(retention.count())});
    const std::uint64_t n = pg::affected_rows(r.get());
    total += n;
    counter += n;
    // A pause between batches leaves the writers the database's attention.
    if (n < kBatchRows || !wait(std::chrono::milliseconds(20))) return total;
  }
}

}  // namespace mlops_ingest::operate
