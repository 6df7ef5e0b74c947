// collect_status(): the database side of `mlops-ingest status`, plus the Kafka watermarks.
#include <algorithm>
#include <cstdlib>
#include <tuple>
#include <map>
#include <set>
#include <thread>

#include "mlops_ingest/observe/status.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "pending_labels.hpp"
#include "status_watermarks.hpp"

namespace mlops_ingest::observe {
namespace {

// The seed's TIMESTAMP columns hold UTC without a zone (docs/events.md), so windows over them
// compare with now() in UTC; comparing with now() itself would shift them by the session's
// time zone. ingest_dead_letters.dead_lettered_at is a TIMESTAMPTZ and compares with now().
constexpr const char* kUtcNow = "(now() AT TIME ZONE 'UTC')";

std::optional<std::string> text_or_null(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col) != 0) return std::nullopt;
  return std::string(PQgetvalue(r, row, col));
}

std::optional<double> double_or_null(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col) != 0) return std::nullopt;
  return std::strtod(PQgetvalue(r, row, col), nullptr);
}

std::int64_t integer(const PGresult* r, int row, int col) { return std::strtoll(PQgetvalue(r, row, col), nullptr, 10); }

void read_offsets(pg::BlockingConnection& conn, Status& out) {
  pg::PgResult r = conn.exec(
      "SELECT consumer_group, topic, kafka_partition, next_offset, "
      "  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
      "FROM ingest_offsets ORDER BY consumer_group, topic, kafka_partition");
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    PartitionStatus p;
    p.group = PQgetvalue(r.get(), i, 0);
    p.topic = PQgetvalue(r.get(), i, 1);
    p.partition = static_cast<std::int32_t>(integer(r.get(), i, 2));
    const std::int64_t next = integer(r.get(), i, 3);
    if (next >= 0) p.next_offset = next;  // -1: the row exists, nothing committed yet
    p.updated_at = PQgetvalue(r.get(), i, 4);
    out.partitions.push_back(std::move(p));
  }
}

void read_activity(pg::BlockingConnection& conn, Status& out) {
  struct Window {
    const char* table;
    const char* column;
    std::string now;
  };
  // The five tables the kinds write (event_kinds.hpp), each by its own time column, then the
  // dead letters.
  const Window windows[] = {{"prediction_logs", "created_at", kUtcNow},
                            {"label_store", "label_timestamp", kUtcNow},
                            {"model_metadata", "created_at", kUtcNow},
                            {"monitoring_alerts", "created_at", kUtcNow},
                            {"retraining_metrics", "created_at", kUtcNow},
                            {"ingest_dead_letters", "dead_lettered_at", "now()"}};
  for (const Window& w : windows) {
    const std::string col = w.column;
    pg::PgResult r = conn.exec("SELECT count(*) FILTER (WHERE " + col + " > " + w.now + " - interval '5 minutes'), "
                               "count(*) FROM " + w.table + " WHERE " + col + " > " + w.now + " - interval '24 hours'");
    out.tables.push_back({w.table, w.column, integer(r.get(), 0, 0), integer(r.get(), 0, 1)});
  }
  pg::PgResult dead = conn.exec(
      "SELECT reason_code, count(*) FROM ingest_dead_letters WHERE dead_lettered_at > now() - interval '24 hours' "
      "GROUP BY reason_code ORDER BY count(*) DESC, reason_code");
  for (int i = 0; i < PQntuples(dead.get()); ++i) {
    out.dead_letters_24h.emplace_back(PQgetvalue(dead.get(), i, 0), integer(dead.get(), i, 1));
  }
  const pg::PgResult r = conn.exec(kPendingLabelsSql);
  const PendingLabels pending = parse_pending_labels(r.get());
  out.labels_pending = pending.count;
  out.oldest_pending_label_seconds = pending.oldest_seconds;
}

// Each partition's committed offset: its next_offset moves by the messages taken from it
// (stored, skipped or dead-lettered), whatever their event time.
using StoredOffsets = std::map<std::tuple<std::string, std::string, std::int32_t>, std::int64_t>;

StoredOffsets stored_offsets(pg::BlockingConnection& conn) {
  pg::PgResult r = conn.exec("SELECT consumer_group, topic, kafka_partition, next_offset FROM ingest_offsets");
  StoredOffsets out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out[{PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1), static_cast<std::int32_t>(integer(r.get(), i, 2))}] =
        integer(r.get(), i, 3);
  }
  return out;
}

void read_ingest_rate(pg::BlockingConnection& conn, std::chrono::milliseconds window, Status& out) {
  using Clock = std::chrono::steady_clock;
  const StoredOffsets before = stored_offsets(conn);
  const Clock::time_point start = Clock::now();
  std::this_thread::sleep_for(window);
  const StoredOffsets after = stored_offsets(conn);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.rate_window_seconds = seconds;
  std::map<std::pair<std::string, std::string>, std::int64_t> moved;  // (group, topic) -> messages
  for (const auto& [key, next] : after) {
    std::int64_t& m = moved[{std::get<0>(key), std::get<1>(key)}];
    const auto it = before.find(key);
    // A partition without a committed offset before the window (-1, or no row) has no starting
    // point: its offset is not this window's work.
    if (it == before.end() || it->second < 0) continue;
    m += std::max<std::int64_t>(0, next - it->second);
  }
  for (const auto& [key, m] : moved) {
    out.ingest_rate.push_back({key.first, key.second, m, seconds > 0 ? static_cast<double>(m) / seconds : 0});
  }
}

// The Common Queries of the database documentation, as they must be written to run on
// PostgreSQL: AVG() of a boolean does not exist (cast to int), a coverage over no predictions
// is unknown rather than a division by zero, and the 24 h window is in UTC.
void read_common_queries(pg::BlockingConnection& conn, Status& out) {
  out.prediction_volume_24h = std::strtoll(
      conn.query_value(std::string("SELECT COUNT(*) FROM prediction_logs WHERE created_at > ") + kUtcNow +
                       " - INTERVAL '24 hours'").c_str(),
      nullptr, 10);
  pg::PgResult coverage = conn.exec(
      "SELECT COUNT(ls.prediction_id)::float / NULLIF(COUNT(pl.prediction_id), 0) AS coverage "
      "FROM prediction_logs pl LEFT JOIN label_store ls USING (prediction_id)");
  out.label_coverage = double_or_null(coverage.get(), 0, 0);
  pg::PgResult accuracy = conn.exec(
      "SELECT model_version, AVG((pl.prediction = ls.true_label)::int)::float AS accuracy "
      "FROM prediction_logs pl JOIN label_store ls USING (prediction_id) "
      "GROUP BY model_version ORDER BY model_version NULLS LAST");
  for (int i = 0; i < PQntuples(accuracy.get()); ++i) {
    out.accuracy_by_model.push_back({text_or_null(accuracy.get(), i, 0), double_or_null(accuracy.get(), i, 1).value_or(0)});
  }
  pg::PgResult alerts = conn.exec(
      "SELECT to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS'), severity, drift_share FROM monitoring_alerts "
      "WHERE alert_type = 'drift' ORDER BY created_at DESC LIMIT 10");
  for (int i = 0; i < PQntuples(alerts.get()); ++i) {
    out.recent_drift_alerts.push_back({text_or_null(alerts.get(), i, 0).value_or(""),
                                       text_or_null(alerts.get(), i, 1).value_or(""),
                                       double_or_null(alerts.get(), i, 2)});
  }
}

// Partitions Kafka has that a group has not stored an offset for yet: they are behind too.
void add_watermarks(Status& out, const std::string& brokers) {
  std::set<std::string> topics;
  for (const PartitionStatus& p : out.partitions) topics.insert(p.topic);
  const WatermarkReport kafka = query_watermarks(brokers, {topics.begin(), topics.end()});
  out.kafka_error = kafka.error;

  std::set<std::string> groups;
  std::map<std::pair<std::string, std::string>, std::set<std::int32_t>> stored;  // (group, topic) -> partitions
  for (const PartitionStatus& p : out.partitions) {
    groups.insert(p.group);
    stored[{p.group, p.topic}].insert(p.partition);
  }
  for (const auto& [key, partitions] : stored) {
    for (const auto& [tp, w] : kafka.watermarks) {
      if (tp.first != key.second || partitions.count(tp.second) != 0) continue;
      PartitionStatus missing;
      missing.group = key.first;
      missing.topic = tp.first;
      missing.partition = tp.second;
      out.partitions.push_back(std::move(missing));
    }
  }
  for (PartitionStatus& p : out.partitions) {
    const auto it = kafka.watermarks.find({p.topic, p.partition});
    if (it == kafka.watermarks.end()) continue;
    p.high_watermark = it->second.high;
    // Messages already deleted by retention cannot be read any more: they are not lag.
    const std::int64_t from = std::max(p.next_offset.value_or(it->second.low), it->second.low);
    p.lag = std::max<std::int64_t>(0, it->second.high - from);
  }
  std::sort(out.partitions.begin(), out.partitions.end(), [](const PartitionStatus& a, const PartitionStatus& b) {
    return std::tie(a.group, a.topic, a.partition) < std::tie(b.group, b.topic, b.partition);
  });
}

}  // namespace

Status collect_status(const std::string& pg_dsn, const std::string& brokers, std::chrono::milliseconds rate_window) {
  Status out;
  pg::BlockingConnection conn(pg_dsn);
  // One snapshot for every figure, and nothing written.
  conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  read_offsets(conn, out);
  read_activity(conn, out);
  read_common_queries(conn, out);
  conn.exec("COMMIT");
  if (rate_window.count() > 0) read_ingest_rate(conn, rate_window, out);
  if (!brokers.empty()) add_watermarks(out, brokers);
  return out;
}

}  // namespace mlops_ingest::observe
