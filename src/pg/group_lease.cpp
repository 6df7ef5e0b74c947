#include "mlops_ingest/pg/group_lease.hpp"

#include <unistd.h>

#include <memory>

#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/pg/advisory_locks.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"

namespace mlops_ingest::pg {
namespace {

std::string make_instance_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(now);
}

std::string interval(std::chrono::seconds s) { return "interval '" + std::to_string(s.count()) + " seconds'"; }

}  // namespace

GroupLease::GroupLease(std::string dsn, std::string group, const std::atomic<bool>& stop,
                       std::function<void()> on_reset)
    : dsn_(std::move(dsn)), group_(std::move(group)), id_(make_instance_id()), on_reset_(std::move(on_reset)) {
  while (!stop.load()) {
    if (write_lease()) {
      held_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (held_) thread_ = std::thread([this] { renew_loop(); });
}

GroupLease::~GroupLease() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  renewal_conn_.reset();
  if (!held_) return;
  try {
    BlockingConnection conn(dsn_);
    conn.exec_params("DELETE FROM ingest_instances WHERE consumer_group = $1 AND instance_id = $2", {group_, id_});
  } catch (const std::exception& e) {
    log_warn(std::string("could not remove this instance's lease on its group (it expires by itself): ") + e.what(),
             {{"group", group_}});
  }
}

bool GroupLease::write_lease() {
  try {
    BlockingConnection conn(dsn_);
    const std::string g = conn.escape_literal(group_);
    // One transaction: the shared group lock waits for a reset that is executing, so the
    // lease (and every offset this instance reads after it) comes after that reset's commit.
    conn.exec("BEGIN; SELECT pg_advisory_xact_lock_shared(" + advisory_lock::group_key_args(g) +
              "); INSERT INTO ingest_instances (consumer_group, instance_id, expires_at) VALUES (" + g + ", " +
              conn.escape_literal(id_) + ", now() + " + interval(kLeaseFor) +
              "); DELETE FROM ingest_instances WHERE consumer_group = " + g +
              " AND expires_at < now() - interval '1 day'; COMMIT");
    return true;
  } catch (const PgError& e) {
    log_warn(std::string("cannot write this instance's lease on its group yet (retrying): ") + e.what(),
             {{"group", group_}});
    return false;
  }
}

GroupLease::Renewal GroupLease::renew() {
  try {
    // One connection kept for the renewals (idle between them: behind a transaction pooler it
    // holds no server connection), opened again after an outage.
    if (!renewal_conn_) renewal_conn_ = std::make_unique<BlockingConnection>(dsn_);
    PgResult r = renewal_conn_->exec_params(
        "UPDATE ingest_instances SET renewed_at = now(), expires_at = now() + " + interval(kLeaseFor) +
            " WHERE consumer_group = $1 AND instance_id = $2 RETURNING offsets_reset_at IS NOT NULL",
        {group_, id_});
    if (PQntuples(r.get()) == 0) {
      // Deleted by hand, or a database restored from before this start: write it again (the
      // writers' own check stops this instance if the restore took its offsets back).
      log_warn("this instance's lease on its group was gone from ingest_instances: writing it again",
               {{"group", group_}});
      return write_lease() ? Renewal::kRenewed : Renewal::kUnreachable;
    }
    return std::string(PQgetvalue(r.get(), 0, 0)) == "t" ? Renewal::kOffsetsReset : Renewal::kRenewed;
  } catch (const PgError&) {
    renewal_conn_.reset();
    return Renewal::kUnreachable;  // an outage: the writers and the probe report it
  }
}

void GroupLease::renew_loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, kRenewEvery, [this] { return quit_; })) {
    lock.unlock();
    const Renewal r = renew();
    lock.lock();
    if (r == Renewal::kOffsetsReset) {
      log_error("the offsets of this group were moved by `mlops-ingest offsets reset --execute` while this instance "
                "consumed it: stopping; a restart resumes from the reset offsets",
                {{"group", group_}});
      if (on_reset_) on_reset_();
      return;
    }
  }
}

}  // namespace mlops_ingest::pg
