#include "visibility_watcher.hpp"

#include <cstdio>
#include <stdexcept>

namespace mlops_ingest::loadtest {

std::string event_id(const std::string& run, std::uint64_t seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "lt-%s-%010llu", run.c_str(), static_cast<unsigned long long>(seq));
  return buf;
}

namespace {
constexpr std::size_t kProbesPerPoll = 1000;
constexpr const char* kProbeStatement = "loadtest_probes";

void check(const pg::PgResult& r, PGconn* conn, const char* what) {
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw std::runtime_error(std::string(what) + PQerrorMessage(conn));
}
}  // namespace

// Prepared once: the probe query runs a hundred times a second, on the database being measured.
VisibilityWatcher::VisibilityWatcher(const std::string& dsn, const std::string& run)
    : probes_conn_(dsn), count_conn_(dsn), run_(run) {
  PGconn* conn = probes_conn_.raw();
  const pg::PgResult r(PQprepare(conn, kProbeStatement,
                                 "SELECT prediction_id FROM prediction_logs WHERE prediction_id = ANY($1::text[])", 1,
                                 nullptr));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    throw std::runtime_error(std::string("watching PostgreSQL: ") + PQerrorMessage(conn));
  }
}

void VisibilityWatcher::poll_probes(Probes& probes, std::uint64_t every, std::vector<double>& seen_now) {
  std::vector<std::size_t> wanted;
  std::string array = "{";
  {
    std::lock_guard lock(probes.mutex);
    while (probes.first_unseen < probes.sent_at.size() && probes.latency_ms[probes.first_unseen] >= 0) {
      ++probes.first_unseen;
    }
    for (std::size_t i = probes.first_unseen; i < probes.sent_at.size() && wanted.size() < kProbesPerPoll; ++i) {
      if (probes.latency_ms[i] >= 0) continue;
      wanted.push_back(i);
      if (array.size() > 1) array += ',';
      array += event_id(run_, i * every);
    }
  }
  if (wanted.empty()) return;
  array += '}';
  const char* values[] = {array.c_str()};
  PGconn* conn = probes_conn_.raw();
  const pg::PgResult r(PQexecPrepared(conn, kProbeStatement, 1, values, nullptr, nullptr, 0));
  const auto now = Clock::now();
  check(r, conn, "watching PostgreSQL: ");
  std::lock_guard lock(probes.mutex);
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    const std::string id = PQgetvalue(r.get(), row, 0);
    const std::uint64_t seq = std::stoull(id.substr(id.rfind('-') + 1));
    const std::size_t probe = static_cast<std::size_t>(seq / every);
    if (probe < probes.latency_ms.size() && probes.latency_ms[probe] < 0) {
      const double ms = std::chrono::duration<double, std::milli>(now - probes.sent_at[probe]).count();
      probes.latency_ms[probe] = ms;
      seen_now.push_back(ms);
    }
  }
}

// Everything below `confirmed_` was seen visible before, so a count scans only the rows past it:
// the last second or two of sends while the deployment keeps up, not the whole run (a scan that
// grows by `rate` rows every second would cost the database being measured more and more).
// `confirmed_` moves up to what had been sent at the previous count once all of that is visible.
void VisibilityWatcher::start_count(std::uint64_t sent, bool after_sending) {
  if (counting_) return;
  const std::string low = event_id(run_, confirmed_);
  const std::string checked = event_id(run_, checking_);
  const std::string high = range_high(run_);
  const char* values[] = {low.c_str(), checked.c_str(), high.c_str()};
  PGconn* conn = count_conn_.raw();
  if (PQsendQueryParams(conn,
                        "SELECT count(*) FILTER (WHERE prediction_id < $2), count(*) FROM prediction_logs "
                        "WHERE prediction_id >= $1 AND prediction_id < $3",
                        3, nullptr, values, nullptr, nullptr, 0) == 0) {
    throw std::runtime_error(std::string("counting visible rows: ") + PQerrorMessage(conn));
  }
  asked_ = Count{sent, 0, after_sending};
  counting_ = true;
}

std::optional<VisibilityWatcher::Count> VisibilityWatcher::take_count() {
  if (!counting_) return std::nullopt;
  PGconn* conn = count_conn_.raw();
  if (PQconsumeInput(conn) == 0) throw std::runtime_error(std::string("counting visible rows: ") + PQerrorMessage(conn));
  if (PQisBusy(conn) != 0) return std::nullopt;
  const pg::PgResult r(PQgetResult(conn));
  check(r, conn, "counting visible rows: ");
  while (PGresult* rest = PQgetResult(conn)) PQclear(rest);  // the end of the command
  counting_ = false;
  const std::uint64_t below_checked = std::stoull(PQgetvalue(r.get(), 0, 0));
  Count c = asked_;
  c.visible = confirmed_ + std::stoull(PQgetvalue(r.get(), 0, 1));
  if (c.visible == c.sent) {
    confirmed_ = c.sent;
  } else if (below_checked == checking_ - confirmed_) {
    confirmed_ = checking_;
  }
  checking_ = c.sent;
  return c;
}

}  // namespace mlops_ingest::loadtest
